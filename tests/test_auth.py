"""Signing in and out, accounts from the CLI, demo accounts, production safeguards."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path

import pytest
from itsdangerous import BadSignature
from sqlalchemy import select

from portal import create_app
from portal.config import load_config
from portal.demo import create_demo_accounts
from portal.extensions import db
from portal.models import Role, User
from tests.conftest import PASSWORD, csrf_token, sign_in


def test_sign_in_and_out(client, make_user):
    user = make_user("industry", organisation="Example Sensors")
    response = sign_in(client, user.email.upper())
    assert response.status_code == 302
    assert "Industry user" in client.get("/").get_data(as_text=True)
    token = client.get("/").get_data(as_text=True).split('name="csrf_token" value="')[1][:20]
    assert token
    account = client.get("/auth/account").get_data(as_text=True)
    assert "Example Sensors" in account


def test_wrong_password_and_unknown_email_get_the_same_message(client, make_user):
    user = make_user("industry")
    wrong = sign_in(client, user.email, "not the password")
    unknown = sign_in(client, "nobody@example.org", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "The email or password is not right." in response.get_data(as_text=True)
    assert client.get("/auth/account").status_code == 302


def test_deactivated_account_cannot_sign_in(client, make_user):
    user = make_user("civil_society")
    user.active = False
    db.session.commit()
    assert sign_in(client, user.email).status_code == 400


def test_unapproved_account_signs_in_but_sees_what_visitors_see(client, make_user, make_document):
    user = make_user("civil_society", approved=False)
    make_document(visibility="participants", title="Participants only note")
    response = sign_in(client, user.email)
    assert response.status_code == 302
    page = client.get("/documents/", follow_redirects=True).get_data(as_text=True)
    assert "waiting for approval" in page
    assert "Participants only note" not in page


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_redirects_off_site(client, make_user, target):
    user = make_user("industry")
    response = client.post(
        f"/auth/sign-in?next={target}",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "http://portal.test/")


def test_sign_in_returns_to_the_page_asked_for(client, make_user):
    user = make_user("industry")
    response = client.post(
        "/auth/sign-in?next=/documents/",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"].endswith("/documents/")


def test_users_create_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Official@Example.gov",
            "--role",
            "government",
            "--state",
            "de",
            "--name",
            "A. Official",
            "--password",
            "a long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created government account official@example.gov for Germany." in result.output
    user = db.session.scalars(select(User)).one()
    assert (
        user.state.code == "DE" and user.approved and user.check_password("a long enough password")
    )
    assert "a long enough password" not in user.password_hash


def test_users_create_prompts_for_the_password(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "sec@example.org", "--role", "secretariat"],
        input="prompted password\nprompted password\n",
    )
    assert result.exit_code == 0, result.output
    assert sign_in(client, "sec@example.org", "prompted password").status_code == 302


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "government"], "government accounts need a state"),
        (["--role", "industry", "--state", "FR"], "other roles must not have one"),
        (["--role", "government", "--state", "ZZ"], "no state with code"),
        (["--role", "industry", "--password", "short"], "at least 12 characters"),
        (["--role", "pope"], "Invalid value for '--role'"),
    ],
)
def test_users_create_refuses_bad_accounts(app, args, message):
    if "--password" not in args:
        args = [*args, "--password", "a long enough password"]
    result = app.test_cli_runner().invoke(args=["users", "create", "x@example.org", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalars(select(User)).first() is None


def test_duplicate_email_is_refused(app, make_user):
    make_user("industry", email="dup@example.org")
    result = app.test_cli_runner().invoke(
        args=["users", "create", "DUP@example.org", "--role", "industry", "--password", "x" * 12]
    )
    assert result.exit_code == 1 and "already exists" in result.output


def test_demo_accounts_one_per_role_shown_on_sign_in_page(app, client):
    result = app.test_cli_runner().invoke(args=["demo", "accounts"])
    assert result.exit_code == 0, result.output
    accounts = json.loads((Path(app.instance_path) / "demo-accounts.json").read_text())
    assert sorted((a["role"], a["state"]) for a in accounts) == [
        ("civil_society", None),
        ("government", "DE"),
        ("government", "FR"),
        ("industry", None),
        ("secretariat", None),
    ]
    page = client.get("/auth/sign-in").get_data(as_text=True)
    assert "Development only: demo accounts" in page
    for account in accounts:
        assert account["email"] in result.output and account["password"] in result.output
        assert account["email"] in page and account["password"] in page
        assert sign_in(app.test_client(), account["email"], account["password"]).status_code == 302
    # A second run creates nothing and prints the same accounts.
    again = app.test_cli_runner().invoke(args=["demo", "accounts"])
    assert "Existing demo accounts" in again.output
    assert len(db.session.scalars(select(User)).all()) == 5


def test_demo_accounts_are_not_created_in_a_database_with_accounts(app, make_user):
    make_user("secretariat")
    assert create_demo_accounts(app) is None


def test_production_refuses_demo_accounts_and_creates_none(app, database_url, monkeypatch):
    create_demo_accounts(app)
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_BASE_URL", "https://localhost")
    with pytest.raises(RuntimeError, match="demo account"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    db.session.execute(db.delete(User))
    db.session.commit()
    production = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    # A fresh context: otherwise the command would run in the test app's context.
    result = contextvars.Context().run(
        production.test_cli_runner().invoke, args=["demo", "accounts"]
    )
    assert result.exit_code == 1 and "never created in production" in result.output
    page = production.test_client().get("/auth/sign-in").get_data(as_text=True)
    assert "demo accounts" not in page
    with production.app_context():
        db.engine.dispose()


def test_production_needs_a_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        load_config(tmp_path, {"PORTAL_ENV": "production"})
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        load_config(tmp_path, {"FLASK_ENV": "production"})
    production = {"PORTAL_ENV": "production", "SECRET_KEY": "s" * 40}
    with pytest.raises(RuntimeError, match="PORTAL_BASE_URL"):
        load_config(tmp_path, production)
    with pytest.raises(RuntimeError, match="PORTAL_BASE_URL"):
        load_config(tmp_path, {**production, "PORTAL_BASE_URL": "http://portal.example"})
    config = load_config(tmp_path, {**production, "PORTAL_BASE_URL": "https://portal.example/"})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["BASE_URL"] == "https://portal.example"
    assert config["TRUSTED_HOSTS"] == ["portal.example"]


def test_development_secret_key_is_generated_once_and_kept(tmp_path):
    first = load_config(tmp_path, {})["SECRET_KEY"]
    second = load_config(tmp_path, {})["SECRET_KEY"]
    assert first == second and len(str(first)) >= 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_configuration_defaults_and_environment(tmp_path):
    defaults = load_config(tmp_path, {})
    assert defaults["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    assert defaults["SEARCH_INDEX_DIR"] == str(tmp_path / "search-index")
    custom = load_config(
        tmp_path,
        {"DATABASE_URL": "postgresql+psycopg://u@h/db", "SEARCH_INDEX_DIR": "/srv/index"},
    )
    assert custom["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert custom["SEARCH_INDEX_DIR"] == "/srv/index"


def test_roles_have_readable_labels():
    assert Role.CIVIL_SOCIETY.label == "Civil society"


def test_the_session_signer_is_made_once_and_follows_a_rotated_key(app) -> None:
    sessions = app.session_interface
    signer = sessions.get_signing_serializer(app)
    assert sessions.get_signing_serializer(app) is signer  # not rebuilt for every request
    cookie = signer.dumps({"sid": "x"})
    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a new key for the portal, rotated today"
    with pytest.raises(BadSignature):
        sessions.get_signing_serializer(app).loads(cookie)
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]  # the old key still opens old cookies
    assert sessions.get_signing_serializer(app).loads(cookie) == {"sid": "x"}
