"""Personal access tokens: made (shown once), looked up by hash, revoked; every change audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from portal.access import AccessDenied, can_hold_api_tokens, grantable_api_scopes
from portal.audit import record_event
from portal.auth.tokens import new_token, plausible, token_hash
from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.models import User
from portal.models.integration import ApiToken

#: Lifetimes a token may be given, in days.
EXPIRY_DAYS = (30, 90, 365)
#: Marks our tokens, so a leaked one is recognisable (e.g. by secret scanners).
TOKEN_PREFIX = "echri_"
#: Characters of the token kept in clear so its owner can tell tokens apart.
SHOWN_CHARACTERS = 12
#: Seconds between updates of `last_used_at` (one write per call would be wasteful).
LAST_USED_RESOLUTION = 60


class InvalidTokenRequest(ValueError):
    """A token request that cannot be granted (unknown lifetime or scopes, blank name)."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret, which exists only here: the database keeps its hash."""

    token: ApiToken
    secret: str


def issue_token(actor: Any, owner: User, name: str, scopes: str, days: int) -> IssuedToken:
    """Make a token for `owner` (the actor is the owner, or a command-line process)."""
    name = name.strip()
    if not can_hold_api_tokens(owner):
        raise AccessDenied("this account may not hold API tokens")
    if not name or len(name) > 100:
        raise InvalidTokenRequest(_("Give the token a name of at most 100 characters."))
    if scopes not in grantable_api_scopes(owner):
        raise InvalidTokenRequest(_("This account may not give a token those scopes."))
    if days not in EXPIRY_DAYS:
        raise InvalidTokenRequest(_("Choose a lifetime of 30, 90 or 365 days."))
    raw = new_token()[0]
    secret = f"{TOKEN_PREFIX}{raw}"
    token = ApiToken(
        user_id=owner.id,
        name=name,
        token_hash=token_hash(secret),
        prefix=secret[:SHOWN_CHARACTERS],
        scopes=scopes,
        created_at=utcnow(),
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    record_event(
        actor,
        "api_token.create",
        token,
        owner=owner.id,
        name=name,
        scopes=scopes,
        expires_at=token.expires_at.isoformat(),
    )
    return IssuedToken(token, secret)


def revoke_token(actor: Any, token: ApiToken) -> bool:
    """Revoke a token now; False if it was already revoked."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    record_event(actor, "api_token.revoke", token, owner=token.user_id, name=token.name)
    return True


def tokens_of(user: Any) -> list[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones included)."""
    user_id = getattr(user, "id", None)
    if not isinstance(user_id, int):
        return []
    query = select(ApiToken).where(ApiToken.user_id == user_id)
    return list(db.session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def own_token(user: Any, token_id: int) -> ApiToken | None:
    """The user's token with this id, or None (someone else's token is not theirs to see)."""
    token = db.session.get(ApiToken, token_id) if token_id <= 2**31 - 1 else None
    if token is None or token.user_id != getattr(user, "id", None):
        return None
    return token


def is_usable(token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Not revoked, not expired, and its owner may still hold tokens (an approved, active
    account; a secretariat account only with two-factor sign-in)."""
    now = now or utcnow()
    return (
        token.revoked_at is None
        and as_utc(token.expires_at) > now
        and token.user is not None
        and can_hold_api_tokens(token.user)
    )


def find_usable_token(secret: str) -> ApiToken | None:
    """The usable token with this secret, or None; notes when it was used."""
    if not plausible(secret) or not secret.isascii():
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    now = utcnow()
    if token is None or not is_usable(token, now):
        return None
    last = as_utc(token.last_used_at)
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION:
        db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        db.session.commit()
    return token
