"""Forgotten passwords: a single-use link by mail, valid PASSWORD_RESET_VALID_MINUTES.

Asking for a link answers the same whether or not the account exists. Using one sets
the password, spends every other open link of the account and signs it out everywhere.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.audit import record_event
from portal.auth.outgoing_mail import send_after_commit
from portal.auth.passwords import password_problem
from portal.auth.services import AccountError, end_sessions, find_user_by_email
from portal.auth.tokens import (
    InvalidToken,
    claim_once,
    describe_expiry,
    has_passed,
    new_token,
    plausible,
    token_hash,
)
from portal.clock import utcnow
from portal.extensions import db
from portal.mail import external_url
from portal.models import PasswordReset, User

log = logging.getLogger("portal.auth")


def request_password_reset(email: str) -> None:
    """Mail a reset link if an active account has this email; otherwise only log it.

    Callers answer the same either way. The caller commits; the mail goes after the commit.
    """
    user = find_user_by_email(email)
    if user is None or not user.active:
        log.info("password reset asked for an email without an active account")
        return
    raw, hashed = new_token()
    minutes = current_app.config["PASSWORD_RESET_VALID_MINUTES"]
    reset = PasswordReset(
        token_hash=hashed, user=user, expires_at=utcnow() + dt.timedelta(minutes=minutes)
    )
    db.session.add(reset)
    db.session.flush()
    record_event(None, "user.password_reset_request", user, reset_id=reset.id)
    send_after_commit(
        user.email,
        _l("Choose a new password for the ECHRI Practice Portal"),
        "password_reset",
        user=user,
        link=external_url("auth.reset_password", token=raw),
        expires=describe_expiry(reset.expires_at),
        minutes=minutes,
        forgot_url=external_url("auth.forgot_password"),
    )


def find_open_reset(raw_token: str) -> PasswordReset:
    """The unused, unexpired reset of an active account that a link's token belongs to.

    Raises InvalidToken for an unknown, tampered, expired or used token alike.
    """
    if not plausible(raw_token):
        raise InvalidToken
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == token_hash(raw_token))
    )
    if reset is None or reset.used_at is not None or has_passed(reset.expires_at):
        raise InvalidToken
    if not reset.user.active:
        raise InvalidToken
    return reset


def reset_password(reset: PasswordReset, password: str) -> User:
    """Set a new password with a reset link: once only, ending every session of the account.

    Raises AccountError for a weak password (the link stays usable), InvalidToken if the
    link was used meanwhile. The caller commits; the notification goes after the commit.
    """
    user = reset.user
    problem = password_problem(password, email=user.email, name=user.name)
    if problem:
        raise AccountError(problem)
    now = utcnow()
    if not claim_once(
        PasswordReset,
        reset.id,
        PasswordReset.used_at.is_(None),
        PasswordReset.expires_at > now,
        used_at=now,
    ):
        raise InvalidToken
    db.session.expire(reset)
    user.set_password(password)
    user.password_changed_at = now
    end_sessions(user)  # and every other link sent to this account stops working
    record_event(user, "user.password_reset", user, reset_id=reset.id)
    send_after_commit(
        user.email,
        _l("Your password was changed"),
        "password_changed",
        user=user,
        forgot_url=external_url("auth.forgot_password"),
    )
    log.info("password reset for %s", user.email)
    return user
