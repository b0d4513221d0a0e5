"""Signed-in sessions: starting one, the half-way state of two-factor sign-in, timeouts.

Sessions are Flask's signed cookies (Secure, HttpOnly, SameSite set in config) that
name a row of `user_sessions`: signing out ends that row, so a copied cookie stops
working at once. The user loader also compares the account's `session_version`, so
raising it (password change, two-factor change, deactivation, role change) ends every
session of the account.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flask import Flask, current_app, flash, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Select, bindparam, select, update

from portal.auth.tokens import new_token, token_hash
from portal.extensions import db
from portal.models import User, UserSession

SESSION_KEY = "sid"
#: Where Flask-Login keeps the signed-in account's id ("id.session_version").
USER_ID_KEY = "_user_id"

#: Where a request notes whether it carries credentials.
_CARRIES_CREDENTIALS = "portal.carries_credentials"

PENDING_KEY = "two_factor_pending"
#: Minutes a user has to type the code after the password was accepted.
PENDING_MINUTES = 5


def carries_credentials() -> bool:
    """Whether the request may be someone's: a session or remember cookie, or an
    Authorization header (an API token). Without any, it is a visitor's."""
    carries = request.environ.get(_CARRIES_CREDENTIALS)
    if carries is None:  # asked several times per request
        config, cookies = current_app.config, request.cookies
        carries = request.environ[_CARRIES_CREDENTIALS] = (
            config["SESSION_COOKIE_NAME"] in cookies
            or config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies
            or "Authorization" in request.headers
        )
    return bool(carries)


def start_session(user: User) -> None:
    """Sign `user` in on this browser (after every factor was checked) and commit.

    A new server-side session replaces this browser's previous one, if any.
    """
    end_session()
    raw, digest = new_token()
    db.session.add(
        UserSession(token_hash=digest, user_id=user.id, created_at=dt.datetime.now(dt.UTC))
    )
    db.session.commit()
    session.pop(PENDING_KEY, None)
    session.permanent = True  # PERMANENT_SESSION_LIFETIME bounds it
    session[SESSION_KEY] = raw
    login_user(user)
    now = int(time.time())
    session["signed_in_at"] = now
    session["seen_at"] = now


def end_session() -> None:
    """Sign this browser out: its server-side session ends, then the cookie is cleared."""
    raw = session.pop(SESSION_KEY, None)
    if isinstance(raw, str):
        db.session.execute(
            update(UserSession)
            .where(UserSession.token_hash == token_hash(raw), UserSession.ended_at.is_(None))
            .values(ended_at=dt.datetime.now(dt.UTC))
        )
        db.session.commit()
    logout_user()
    for key in ("seen_at", "signed_in_at"):
        session.pop(key, None)


def await_second_factor(user: User) -> None:
    """Remember that the password was right; the code is asked next."""
    session[PENDING_KEY] = {"id": user.get_id(), "at": int(time.time())}


def pending_user() -> User | None:
    """The account whose password was accepted here in the last few minutes, if any."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if int(time.time()) - int(pending.get("at", 0)) > PENDING_MINUTES * 60:
        session.pop(PENDING_KEY, None)
        return None
    return _account(str(pending.get("id", "")))


@dataclass(frozen=True)
class SessionClaim:
    """The account and server-side session a cookie names: not checked against the database."""

    user_id: int
    version: int
    token_hash: str

    @property
    def parameters(self) -> dict[str, object]:
        """Bind parameters of `signed_in` statements."""
        return {"user_id": self.user_id, "version": self.version, "token_hash": self.token_hash}


def session_claim(session_id: str | None = None) -> SessionClaim | None:
    """What this browser's cookie claims (`session_id`: Flask-Login's "id.version")."""
    if session_id is None:
        session_id = session.get(USER_ID_KEY)
    raw = session.get(SESSION_KEY)
    named = _account_named(session_id)
    if named is None or not isinstance(raw, str):
        return None
    return SessionClaim(*named, token_hash(raw))


def _account_named(session_id: object) -> tuple[int, int] | None:
    """The account id and session version a session id ("id.version") names."""
    if not isinstance(session_id, str):
        return None
    user_id, _, version = session_id.partition(".")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return int(user_id), int(version)


def load_user(session_id: str) -> User | None:
    """Flask-Login's user loader: the account if active, the session version matches and
    this browser's server-side session has not ended (one query, when first asked for)."""
    claim = session_claim(session_id)
    if claim is None:
        return None
    return db.session.scalar(_SIGNED_IN_USER, claim.parameters)


def signed_in(*columns: Any) -> Select[Any]:
    """`columns` of the account a claim names, if it is a signed-in session: the account
    is active, its session version matches and the server-side session has not ended.
    Bind parameters from `SessionClaim.parameters`; build it once (module level)."""
    return (
        select(*columns)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.active.is_(True),
            User.id == bindparam("user_id"),
            User.session_version == bindparam("version"),
            UserSession.token_hash == bindparam("token_hash"),
            UserSession.ended_at.is_(None),
        )
    )


# Built once: constructing the statement cost as much as running it, on every request that
# loads the account.
_SIGNED_IN_USER = signed_in(User)


def _account(session_id: str) -> User | None:
    """The active account whose id and session version `session_id` names."""
    named = _account_named(session_id)
    if named is None:
        return None
    user = db.session.get(User, named[0])
    if user is None or not user.active or user.session_version != named[1]:
        return None
    return user


class Idle(Enum):
    """Where a session stands against SESSION_IDLE_MINUTES and its lifetime."""

    ACTIVE = "active"  # nothing to do
    SEEN = "seen"  # active, and its idle clock is due to be moved on (once a minute)
    OVER = "over"  # idle too long, or too old: it must end


def idle_state(now: int) -> Idle:
    """This cookie's session against the idle timeout and lifetime, from the cookie alone."""
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    seen, started = session.get("seen_at", 0), session.get("signed_in_at", 0)
    if now - seen > idle or now - started > lifetime:
        return Idle.OVER
    return Idle.SEEN if now - seen >= 60 else Idle.ACTIVE  # fewer cookie rewrites


def _expire_idle_sessions() -> None:
    """Sign out a session idle longer than SESSION_IDLE_MINUTES or older than its lifetime.

    The account is loaded only when there is something to do, so that a kept page can be
    served without it (`portal/reader_pages.py`).
    """
    if SESSION_KEY not in session:
        return
    now = int(time.time())
    state = idle_state(now)
    if state is Idle.ACTIVE or not current_user.is_authenticated:
        return
    if state is Idle.OVER:
        end_session()
        flash(
            _("You were signed out after a period without activity. Please sign in again."), "info"
        )
    else:
        session["seen_at"] = now


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's own signed-cookie sessions, with the serializer that signs them made once per
    set of keys instead of on every request (3-4% of a kept page's CPU). The keys are
    SECRET_KEY and SECRET_KEY_FALLBACKS as they are when asked: a rotated key applies at once."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[object, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer


def init_app(app: Flask) -> None:
    """Sessions in signed cookies; timeouts checked before every request."""
    app.session_interface = SignedCookieSessions()
    app.before_request(_expire_idle_sessions)
