"""Accounts: creating users and checking credentials."""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from portal.audit import record_event
from portal.extensions import db
from portal.models import Role, State, User

MIN_PASSWORD_LENGTH = 10
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
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if find_user_by_email(email) is not None:
        raise AccountError(f"an account for {email} already exists")
    if (role is Role.GOVERNMENT) != (state is not None):
        raise AccountError("government accounts need a state; other roles must not have one")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
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
