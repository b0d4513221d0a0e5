"""Ways in from outside the browser session: API tokens, private feed links, digest subscriptions.

As with invitations, only SHA-256 hashes of the secrets are stored.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models import Base, str_enum
from portal.models.users import User


class ApiToken(Base):
    """A personal access token for the JSON API, shown once when made.

    `scopes` is a space-separated subset of "read write"; a token never reaches further
    than its owner's own role does at the moment of each call.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("scopes IN ('read', 'read write')", name="known_scopes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so the owner can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()

    @property
    def scope_set(self) -> frozenset[str]:
        """The scopes as a set: {"read"} or {"read", "write"}."""
        return frozenset(self.scopes.split())


class FeedToken(Base):
    """A private Atom feed link: carries what its owner may read, until revoked."""

    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()


class SubscriptionKind(enum.StrEnum):
    """What a digest subscription follows."""

    STATE = "state"
    COMMITMENT = "commitment"
    TYPE = "type"


class Subscription(Base):
    """One thing a user follows in their digest: a state (code), a commitment (number) or a
    document type (value). Access is checked when the digest is sent, not here."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "kind", "value", name="one_per_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SubscriptionKind] = mapped_column(str_enum(SubscriptionKind, "subscription_kind"))
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    user: Mapped[User] = relationship()
