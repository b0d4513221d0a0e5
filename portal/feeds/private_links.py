"""Private feed links: a secret address that carries what its owner may read at each request.

Only the SHA-256 hash of the secret is stored, so a link is shown once, when it is made.
A user has at most one open link: making a new one revokes the old.
"""

from __future__ import annotations

from sqlalchemy import select, update

from portal.access import AccessDenied, can_subscribe
from portal.audit import record_event
from portal.auth.tokens import new_token, plausible, token_hash
from portal.clock import utcnow
from portal.extensions import db
from portal.models import FeedToken, User


def open_feed_link(user: User) -> FeedToken | None:
    """The user's current (unrevoked) private feed link, if any."""
    return db.session.scalar(
        select(FeedToken)
        .where(FeedToken.user_id == user.id, FeedToken.revoked_at.is_(None))
        .order_by(FeedToken.id.desc())
        .limit(1)
    )


def revoke_feed_links(user: User) -> int:
    """Revoke every open private feed link of `user`; how many there were. The caller commits."""
    result = db.session.execute(
        update(FeedToken)
        .where(FeedToken.user_id == user.id, FeedToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    revoked: int = result.rowcount  # type: ignore[attr-defined]
    if revoked:
        record_event(user, "feed.link_revoke", user, links=revoked)
    return revoked


def create_feed_link(user: User) -> str:
    """Make a new private feed link for `user` (revoking the old) and return its secret,
    which is not stored and cannot be shown again. The caller commits."""
    if not can_subscribe(user):
        raise AccessDenied("private feed refused")
    revoke_feed_links(user)
    raw, hashed = new_token()
    link = FeedToken(user_id=user.id, token_hash=hashed)
    db.session.add(link)
    db.session.flush()
    record_event(user, "feed.link_create", user, link_id=link.id)
    return raw


def feed_link_owner(raw: str) -> User | None:
    """The owner of an open private feed link while they may still have one; None otherwise
    (unknown or revoked link, deactivated or unapproved account): the caller answers 404."""
    if not plausible(raw):
        return None
    link = db.session.scalar(
        select(FeedToken).where(
            FeedToken.token_hash == token_hash(raw), FeedToken.revoked_at.is_(None)
        )
    )
    if link is None or not can_subscribe(link.user):
        return None
    return link.user
