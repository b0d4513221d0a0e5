"""Single-use secrets (invitation and reset links, recovery codes): made, hashed, spent once."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import update

from portal.clock import as_utc, utcnow
from portal.extensions import db

#: Longer than any token we make: refused before hashing, so a huge path costs nothing.
MAX_TOKEN_LENGTH = 128


class InvalidToken(Exception):
    """A link's token is unknown, tampered with, expired, used or withdrawn (never says which)."""


def new_token() -> tuple[str, str]:
    """A fresh secret for a link, and the SHA-256 hex digest that is all the database keeps."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def token_hash(raw: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def plausible(raw: str) -> bool:
    """Could this be one of our tokens? (Cheap check before looking it up.)"""
    return 0 < len(raw) <= MAX_TOKEN_LENGTH




def has_passed(moment: dt.datetime) -> bool:
    """True once `moment` is in the past."""
    return as_utc(moment) <= utcnow()


def describe_expiry(moment: dt.datetime) -> str:
    """The expiry time as mails state it: '14:05 UTC on 3 May 2025'."""
    moment = as_utc(moment)
    return f"{moment:%H:%M} UTC on {moment.day} {moment:%B %Y}"


def claim_once(model: type[Any], row_id: int, *conditions: Any, **values: Any) -> bool:
    """Set `values` on one row if `conditions` still hold; True if this call did it.

    One UPDATE ... WHERE: of two requests racing to spend the same link or code, only
    one changes the row, so a single-use secret is used once.
    """
    result = db.session.execute(
        update(model)
        .where(model.id == row_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]
