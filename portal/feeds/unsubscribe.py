"""One-click unsubscribe links in digests: signed, single-purpose, bound to one account.

The token is signed with the app's SECRET_KEY under its own salt, so no other signed value
of the portal (a session, another link) can stand in for it, and it names the account and
a digest of its email address: a changed address makes old links stop working.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from portal.audit import record_event
from portal.extensions import db
from portal.models import DigestPeriod, User

SALT = "digest-unsubscribe"
MAX_TOKEN_LENGTH = 200


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _address_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:20]


def unsubscribe_token(user: User) -> str:
    """The signed token of `user`'s unsubscribe link."""
    return str(_serializer().dumps({"user": user.id, "address": _address_digest(user.email)}))


def unsubscribing_user(token: str) -> User | None:
    """The account an unsubscribe token was made for; None if forged, altered or stale."""
    if not 0 < len(token) <= MAX_TOKEN_LENGTH:
        return None
    try:
        payload = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), int):
        return None
    user = db.session.get(User, payload["user"])
    if user is None or payload.get("address") != _address_digest(user.email):
        return None
    return user


def unsubscribe(user: User) -> bool:
    """Stop `user`'s digests (their subscriptions are kept); False if they were already off.
    The caller commits."""
    if user.digest_period is DigestPeriod.NONE:
        return False
    previous = user.digest_period
    user.digest_period = DigestPeriod.NONE
    record_event(user, "user.digest_unsubscribe", user, previous=str(previous))
    return True
