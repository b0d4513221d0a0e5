"""Personal access tokens: made on the account page and shown once, stored hashed, scoped,
expiring, revocable; a government token reaches government documents only with 2FA."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.api.tokens import issue_token
from portal.extensions import db
from portal.models import AuditEvent, Document, User
from portal.models.integration import ApiToken
from tests.conftest import csrf_token

TOKEN_IN_PAGE = re.compile(r'value="(echri_[A-Za-z0-9_-]+)"')


def make_token_on_account_page(client: FlaskClient, scopes: str = "read", days: str = "30"):
    """Fill in the account page's token form as a browser would."""
    return client.post(
        "/account/tokens",
        data={
            "name": "My script",
            "scopes": scopes,
            "days": days,
            "csrf_token": csrf_token(client, "/auth/account"),
        },
    )


def test_token_is_shown_once_and_only_its_hash_is_stored(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    user = login_as("industry")
    made = make_token_on_account_page(client)
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    secret = TOKEN_IN_PAGE.search(made.get_data(as_text=True)).group(1)
    stored = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert stored.token_hash != secret and secret not in stored.token_hash
    assert secret.startswith(stored.prefix)
    account = client.get("/auth/account").get_data(as_text=True)
    assert "My script" in account and secret not in account, "never shown again"
    used = client.get("/api/v1/documents", headers={"Authorization": f"Bearer {secret}"})
    assert used.status_code == 200
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id))
    assert "api_token.create" in list(events)


def test_token_form_needs_its_csrf_token_and_offers_write_only_to_writers(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as("civil_society")
    refused = client.post("/account/tokens", data={"name": "x", "scopes": "read", "days": "30"})
    assert refused.status_code == 400
    assert 'value="read write"' in client.get("/auth/account").get_data(as_text=True)
    odd = make_token_on_account_page(client, days="7")
    assert odd.status_code == 400 and db.session.scalar(select(ApiToken.id)) is None


def test_revoked_token_is_refused_with_401(
    app: Flask, client: FlaskClient, login_as: Callable[..., User]
) -> None:
    user = login_as("industry")
    issued = issue_token(user, user, "script", "read", 30)
    db.session.commit()
    header = {"Authorization": f"Bearer {issued.secret}"}
    assert client.get("/api/v1/states", headers=header).status_code == 200
    revoked = client.post(
        f"/account/tokens/{issued.token.id}/revoke",
        data={"csrf_token": csrf_token(client, "/auth/account")},
    )
    assert revoked.status_code == 302
    refused = client.get("/api/v1/states", headers=header)
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.json["status"] == 401 and refused.json["detail"]


def test_nobody_revokes_someone_elses_token(
    client: FlaskClient, login_as: Callable[..., User], make_user: Callable[..., User]
) -> None:
    other = make_user("industry")
    issued = issue_token(other, other, "theirs", "read", 30)
    db.session.commit()
    login_as("industry")
    response = client.post(
        f"/account/tokens/{issued.token.id}/revoke",
        data={"csrf_token": csrf_token(client, "/auth/account")},
    )
    assert response.status_code == 404
    db.session.refresh(issued.token)
    assert issued.token.revoked_at is None


@pytest.mark.parametrize(
    "change", ["expired", "deactivated", "unapproved", "unknown", "not bearer"]
)
def test_unusable_tokens_are_401(
    client: FlaskClient, make_user: Callable[..., User], change: str
) -> None:
    user = make_user("industry")
    issued = issue_token(user, user, "script", "read", 30)
    header = f"Bearer {issued.secret}"
    if change == "expired":
        issued.token.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    elif change == "deactivated":
        user.active = False
    elif change == "unapproved":
        user.approved = False
    elif change == "unknown":
        header = "Bearer echri_" + "x" * 43
    else:
        header = f"Basic {issued.secret}"
    db.session.commit()
    response = client.get("/api/v1/documents", headers={"Authorization": header})
    assert response.status_code == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_read_token_cannot_write(client: FlaskClient, make_user: Callable[..., User]) -> None:
    user = make_user("government", "FR")
    issued = issue_token(user, user, "script", "read", 30)
    db.session.commit()
    response = client.post(
        "/api/v1/documents",
        headers={"Authorization": f"Bearer {issued.secret}"},
        json={
            "type": "implementation_note",
            "title": "T",
            "source": "S",
            "visibility": "public",
            "state": "FR",
        },
    )
    assert response.status_code == 403
    assert response.json["type"] == "urn:echri:problem:insufficient-scope"
    assert db.session.scalar(select(Document.id)) is None


def test_government_token_reaches_government_documents_only_with_two_factor(
    client: FlaskClient, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    """The token acts as its owner now: the same two-factor rule as the site."""
    note = make_document("implementation_note", "government", state_code="DE")
    user = make_user("government", "FR", two_factor=False)
    issued = issue_token(user, user, "script", "read", 30)
    db.session.commit()
    header = {"Authorization": f"Bearer {issued.secret}"}
    assert client.get(f"/api/v1/documents/{note.slug}", headers=header).status_code == 404
    user.totp_enabled_at = dt.datetime.now(dt.UTC)
    db.session.commit()
    assert client.get(f"/api/v1/documents/{note.slug}", headers=header).status_code == 200


def test_cli_prints_a_token_for_an_account(app: Flask, make_user: Callable[..., User]) -> None:
    user = make_user("government", "FR")
    result: Result = app.test_cli_runner().invoke(
        args=["api", "token", "--email", user.email, "--scopes", "read write"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    stored = db.session.scalars(select(ApiToken)).one()
    assert stored.scopes == "read write" and secret.startswith(stored.prefix)
    assert stored.token_hash != secret
    missing = app.test_cli_runner().invoke(args=["api", "token", "--email", "nobody@x.org"])
    assert missing.exit_code != 0
