"""Two-factor sign-in, throttling, sessions and security headers."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import create_app
from portal.access import readable_visibilities
from portal.auth.sessions import load_user
from portal.config import load_config
from portal.extensions import db
from portal.models import Document, RecoveryCode, User
from tests.conftest import PASSWORD, IsolatedClient, csrf_token, sign_in, totp_code

CODE_PAGE = "/auth/sign-in/code"


def post_form(client: FlaskClient, path: str, data: dict[str, str], form_path: str | None = None):
    """POST `data` to `path` with the CSRF token of the form at `form_path` (default `path`)."""
    token = csrf_token(client, form_path or path)
    return client.post(path, data={**data, "csrf_token": token})


def password_step(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/auth/sign-in", {"email": email, "password": password})


def enrol(client: FlaskClient) -> tuple[str, list[str]]:
    """Enrol the signed-in user through the setup page; returns the secret and the codes."""
    page = client.get("/auth/two-factor").get_data(as_text=True)
    assert "<svg" in page, "the QR code is drawn inline"
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/auth/two-factor", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", response.get_data(True))
    assert len(codes) == 10
    return secret, codes


# --- two-factor sign-in ------------------------------------------------------------------------


def test_government_user_enrols_then_reads_government_documents(
    client: FlaskClient, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    """Without 2FA a government user is sent to enrol and cannot read `government`; after, can."""
    secret_note = make_document(visibility="government", title="Government-only note")
    user = make_user("government", "FR", two_factor=False)
    response = password_step(client, user.email)
    assert response.status_code == 302 and response.location.endswith("/auth/two-factor")
    assert client.get(f"/documents/{secret_note.slug}").status_code == 404

    enrol(client)
    assert client.get(f"/documents/{secret_note.slug}").status_code == 200, "this session stays"
    db.session.refresh(user)
    assert user.two_factor_enabled

    other = IsolatedClient(client.application, client.response_wrapper, use_cookies=True)
    response = password_step(other, user.email)
    assert response.status_code == 302 and CODE_PAGE in response.location
    assert other.get(f"/documents/{secret_note.slug}").status_code == 404, "password alone: no"
    response = post_form(other, CODE_PAGE, {"code": totp_code(user)})
    assert response.status_code == 302
    assert other.get(f"/documents/{secret_note.slug}").status_code == 200


def test_wrong_replayed_and_recovery_codes(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    """A wrong code is refused, a used code cannot be replayed, a recovery code works once."""
    user = make_user("secretariat", two_factor=False)
    sign_in(client, user.email)
    _, recovery = enrol(client)
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})

    password_step(client, user.email)
    assert post_form(client, CODE_PAGE, {"code": "000000"}).status_code == 400
    code = totp_code(user)
    assert post_form(client, CODE_PAGE, {"code": code}).status_code == 302
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})

    password_step(client, user.email)
    replay = post_form(client, CODE_PAGE, {"code": code})
    assert replay.status_code == 400
    assert "used already" in replay.get_data(as_text=True)
    assert post_form(client, CODE_PAGE, {"code": recovery[0]}).status_code == 302
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})

    password_step(client, user.email)
    assert post_form(client, CODE_PAGE, {"code": recovery[0]}).status_code == 400
    assert post_form(client, CODE_PAGE, {"code": recovery[1].upper()}).status_code == 302
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert not any(code in stored for code in recovery), "only hashes are stored"


def test_code_page_needs_the_password_step_first(
    client: FlaskClient, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No password step (or an old one): the code page sends you back to sign in."""
    assert client.get(CODE_PAGE).status_code == 302
    user = make_user("government", "FR")
    password_step(client, user.email)
    later = time.time() + 6 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.get(CODE_PAGE)
    assert response.status_code == 302 and response.location.endswith("/auth/sign-in")


def test_disabling_two_factor_needs_the_password_and_a_code(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    user = login_as("government", "FR")
    path = "/auth/two-factor/disable"
    wrong = post_form(client, path, {"password": "nope", "code": totp_code(user)}, "/auth/account")
    assert wrong.status_code == 303
    no_code = post_form(client, path, {"password": PASSWORD, "code": "000000"}, "/auth/account")
    assert no_code.status_code == 303
    db.session.refresh(user)
    assert user.two_factor_enabled
    code = totp_code(user)
    right = post_form(client, path, {"password": PASSWORD, "code": code}, "/auth/account")
    assert right.status_code == 302
    db.session.refresh(user)
    assert not user.two_factor_enabled


# --- sessions and passwords ----------------------------------------------------------------------


def test_password_change_signs_out_other_sessions(
    app: Flask, client: FlaskClient, login_as: Callable[..., User]
) -> None:
    user = login_as("industry")
    elsewhere = app.test_client()
    sign_in(elsewhere, user.email)
    assert elsewhere.get("/auth/account").status_code == 200
    new = "a different long passphrase"
    response = post_form(
        client, "/auth/password", {"current": PASSWORD, "new": new, "confirm": new}
    )
    assert response.status_code == 302
    assert client.get("/auth/account").status_code == 200, "this browser stays signed in"
    assert elsewhere.get("/auth/account").status_code == 302, "the other one is signed out"
    db.session.refresh(user)
    assert user.password_hash.startswith("scrypt:")
    assert sign_in(app.test_client(), user.email).status_code == 400, "old password refused"
    assert sign_in(app.test_client(), user.email, new).status_code == 302


@pytest.mark.parametrize(
    ("new", "message"),
    [("short pass", "at least 12"), ("password1234", "common"), ("", "required")],
)
def test_weak_new_passwords_are_refused(
    client: FlaskClient, login_as: Callable[..., User], new: str, message: str
) -> None:
    login_as("industry")
    response = post_form(
        client, "/auth/password", {"current": PASSWORD, "new": new, "confirm": new}
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).lower()


def test_idle_session_ends(
    client: FlaskClient, login_as: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    login_as("industry")
    assert client.get("/auth/account").status_code == 200
    later = time.time() + 31 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/auth/account").status_code == 302


def test_session_cookie_flags(app: Flask, make_user: Callable[..., User], tmp_path: Path) -> None:
    """HttpOnly and SameSite always; Secure in production."""
    user = make_user("industry")
    client = app.test_client()
    response = sign_in(client, user.email)
    cookie = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    production = load_config(
        tmp_path,
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "PORTAL_BASE_URL": "https://p.example",
        },
    )
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["REMEMBER_COOKIE_SECURE"] is True


def test_old_session_cookies_without_a_version_are_refused(app: Flask) -> None:
    with app.test_request_context():
        assert load_user("1") is None
        assert load_user("x.1") is None


# --- throttling ---------------------------------------------------------------------------------


@pytest.mark.throttled
def test_sign_in_is_throttled_the_same_for_known_and_unknown_accounts(
    client: FlaskClient, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After 8 wrong passwords for one email: 429 with the same page; it recovers later."""
    user = make_user("industry")
    pages = {}
    for email in (user.email, "nobody@example.org"):
        statuses = [password_step(client, email, "wrong password").status_code for _ in range(8)]
        assert statuses == [400] * 8
        throttled = password_step(client, email, PASSWORD)
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"]
        pages[email] = throttled.get_data(as_text=True).replace(csrf_token(client), "")
    assert pages[user.email] == pages["nobody@example.org"]
    assert "Too many attempts" in pages[user.email]

    later = time.time() + 11 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert password_step(client, user.email).status_code == 302, "the lock-out ends"


@pytest.mark.throttled
def test_two_factor_codes_are_throttled_per_account(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    user = make_user("government", "FR")
    password_step(client, user.email)
    statuses = [post_form(client, CODE_PAGE, {"code": "123456"}).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


def _redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_available(), reason="no Redis at 127.0.0.1:6379")
def test_workers_share_counts_through_redis(database_url: str, tmp_path: Any, app: Flask) -> None:
    """Two app instances (two workers) with one Redis: attempts on either count together."""
    prefix = f"test-{uuid.uuid4().hex}"
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": prefix,
    }
    workers = [create_app(config), create_app(config)]
    statuses = []
    for attempt in range(9):
        worker = workers[attempt % 2]
        with worker.app_context():
            client = worker.test_client()
            statuses.append(password_step(client, "someone@example.org", "wrong").status_code)
    for worker in workers:
        with worker.app_context():
            worker.extensions["search"].close()
            db.engine.dispose()
    assert statuses == [400] * 8 + [429]


# --- headers and CSRF ---------------------------------------------------------------------------

PAGES = [
    "/",
    "/documents/",
    "/states/",
    "/states/FR",
    "/commitments/",
    "/commitments/1",
    "/search?q=licence",
    "/auth/sign-in",
    "/auth/request-access",
    "/auth/forgot-password",
    "/no-such-page",
    "/static/portal.css",
]


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_page(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    response.close()
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers, "no HSTS over plain http"


def test_hsts_over_https(client: FlaskClient) -> None:
    response = client.get("/", base_url="https://portal.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_signed_in_pages_carry_headers_and_no_inline_script(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as("secretariat")
    for path in ("/auth/account", "/auth/two-factor", "/documents/new", "/admin/"):
        response = client.get(path)
        assert "Content-Security-Policy" in response.headers, path
        page = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), f"inline script on {path}"
        assert " style=" not in page and " onclick=" not in page, path


def test_state_changing_json_requests_need_a_csrf_token(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    """CSRF applies to every POST, whatever the body: JSON without a token is refused."""
    login_as("industry")
    response = client.post("/auth/sign-out", json={"confirm": True})
    assert response.status_code == 400
    assert client.get("/auth/account").status_code == 200, "still signed in"


def test_deactivated_account_reads_only_public_documents(make_user: Callable[..., User]) -> None:
    """Two-factor does not outrank deactivation: a deactivated account is a visitor."""
    user = make_user("government", "FR")
    user.active = False
    assert [v.value for v in readable_visibilities(user)] == ["public"]


def test_administration_needs_two_factor_sign_in(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    """The secretariat administers only after two-factor sign-in (it reaches every account)."""
    login_as("secretariat", two_factor=False)
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/users").status_code == 403


def test_mailed_links_use_the_base_url_not_the_host_header(
    app: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    """A forged Host header cannot point a password-reset link at another server."""
    user = make_user("industry")
    app.config["BASE_URL"] = "https://portal.example"
    # The session cookie (and so the CSRF token) belongs to the real host: not under test.
    app.config["WTF_CSRF_ENABLED"] = False
    response = client.post(
        "/auth/forgot-password", data={"email": user.email}, headers={"Host": "evil.example"}
    )
    assert response.status_code in (200, 302)
    (mail,) = Path(app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")
    text = mail.read_text()
    assert "https://portal.example/auth/reset-password/" in text
    assert "evil.example" not in text


def test_sign_in_redirect_refuses_control_characters(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    """A `next` with CR/LF (header injection) falls back to the home page, never a 500."""
    user = make_user("industry")
    token = csrf_token(client)
    response = client.post(
        "/auth/sign-in?next=/a%0D%0AX:%20y",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.location.endswith("/")


@pytest.mark.throttled
def test_disabling_two_factor_is_throttled(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as("government", "FR")
    statuses = [
        post_form(
            client, "/auth/two-factor/disable", {"password": "x", "code": "1"}, "/auth/account"
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [303] * 5 + [429]


def test_huge_numbers_in_urls_are_404_not_500(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as("secretariat")
    assert client.get(f"/admin/users/{2**70}").status_code == 404
    token = csrf_token(client, "/auth/account")
    assert (
        client.post(f"/auth/invitations/{2**70}/revoke", data={"csrf_token": token}).status_code
        == 404
    )


def test_a_copied_session_cookie_stops_working_after_sign_out(
    app: Flask, client: FlaskClient, login_as: Callable[..., User]
) -> None:
    """Signing out ends the session on the server: replaying the old cookie is anonymous."""
    login_as("industry")
    cookie = client.get_cookie("session", domain=app.config["SERVER_NAME"])
    assert cookie is not None
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value, domain=app.config["SERVER_NAME"])
    assert thief.get("/auth/account").status_code == 302, "the copy is signed out too"


@pytest.mark.throttled
def test_downloading_the_documents_archive_again_and_again_is_throttled(
    client: FlaskClient,
) -> None:
    """Each archive is built afresh: a visitor gets ten in ten minutes, then a 429."""
    statuses = []
    for _ in range(11):
        response = client.get("/export/documents.zip")
        statuses.append(response.status_code)
        response.close()
    assert statuses == [200] * 10 + [429]
