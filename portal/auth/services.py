"""Accounts: creating users and checking credentials."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from portal.audit import record_event
from portal.auth.passwords import password_problem
from portal.extensions import db
from portal.models import PasswordReset, Role, State, User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so a wrong email costs as long as a wrong password."""
    return generate_password_hash("not a real password", method="scrypt")


class AccountError(ValueError):
    """An account cannot be created as asked; the message says why."""


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def is_email_address(text: str) -> bool:
    """Does `text` look like an email address (something@domain.tld, no spaces)?"""
    return len(text) <= 254 and _EMAIL.match(text) is not None


def find_user_by_email(email: str) -> User | None:
    """The account with this email, if any."""
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(
    email: str,
    *,
    name: str,
    role: Role,
    password: str,
    state: State | None = None,
    organisation: str | None = None,
    approved: bool = True,
    is_demo: bool = False,
    actor: object | None = None,
) -> User:
    """Create an account; government accounts need a state, others must not have one."""
    email = normalise_email(email)
    if not is_email_address(email):
        raise AccountError(f"{email!r} is not an email address")
    if find_user_by_email(email) is not None:
        raise AccountError(_("an account for %(email)s already exists", email=email))
    if role.has_state != (state is not None):
        raise AccountError(_("government accounts need a state; other roles must not have one"))
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise AccountError(problem)
    user = User(
        email=email,
        name=name.strip() or email,
        role=role,
        state=state,
        organisation=organisation,
        approved=approved,
        active=True,
        is_demo=is_demo,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_event(actor, "user.create", user, email=email, role=str(role))
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active account matching these credentials, or None, in constant-ish time."""
    user = find_user_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password after checking the current one; every session of the account ends.

    Raises AccountError with a message for the form.
    """
    if not user.check_password(current):
        raise AccountError(_("The current password is not right."))
    problem = password_problem(new, email=user.email, name=user.name)
    if problem:
        raise AccountError(problem)
    user.set_password(new)
    user.password_changed_at = dt.datetime.now(dt.UTC)
    end_sessions(user)
    record_event(user, "user.password_change", user)


def end_sessions(user: User) -> None:
    """Sign the account out everywhere and void its open password-reset links.

    For password changes and resets, two-factor changes, role changes and deactivation.
    """
    user.session_version = (user.session_version or 1) + 1
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )
