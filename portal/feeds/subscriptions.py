"""What a user follows in their email digest (states, commitments, types) and how often."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, delete, false, or_, select

from portal.access import AccessDenied, can_subscribe
from portal.audit import record_event
from portal.extensions import db
from portal.models import (
    Commitment,
    DigestPeriod,
    Document,
    DocumentType,
    State,
    Subscription,
    SubscriptionKind,
    User,
)
from portal.models.documents import document_commitments


@dataclass
class Following:
    """A user's subscriptions by kind: state codes, commitment numbers, type values."""

    states: set[str] = field(default_factory=set)
    commitments: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)

    def of(self, kind: SubscriptionKind) -> set[str]:
        """The values followed of one kind."""
        return {
            SubscriptionKind.STATE: self.states,
            SubscriptionKind.COMMITMENT: self.commitments,
            SubscriptionKind.TYPE: self.types,
        }[kind]

    def __bool__(self) -> bool:
        return bool(self.states or self.commitments or self.types)


def following(user: User) -> Following:
    """What `user` follows now."""
    follows = Following()
    for subscription in db.session.scalars(
        select(Subscription).where(Subscription.user_id == user.id)
    ):
        follows.of(subscription.kind).add(subscription.value)
    return follows


def known_values(kind: SubscriptionKind) -> set[str]:
    """The values one may follow of a kind: existing state codes, commitment numbers, types."""
    if kind is SubscriptionKind.STATE:
        return set(db.session.scalars(select(State.code)))
    if kind is SubscriptionKind.COMMITMENT:
        return {str(n) for n in db.session.scalars(select(Commitment.number))}
    return {t.value for t in DocumentType}


def save_following(user: User, follows: Following, period: DigestPeriod) -> None:
    """Replace what `user` follows and set their digest period; unknown values are dropped.

    Raises AccessDenied for an account that may not subscribe. The caller commits.
    """
    if not can_subscribe(user):
        raise AccessDenied("subscriptions refused")
    db.session.execute(delete(Subscription).where(Subscription.user_id == user.id))
    for kind in SubscriptionKind:
        for value in sorted(follows.of(kind) & known_values(kind)):
            db.session.add(Subscription(user_id=user.id, kind=kind, value=value))
    user.digest_period = period
    db.session.flush()
    record_event(
        user,
        "user.subscriptions",
        user,
        digest_period=str(period),
        states=sorted(follows.states),
        commitments=sorted(follows.commitments),
        types=sorted(follows.types),
    )


def followed_documents(follows: Following) -> ColumnElement[bool]:
    """SQL condition: documents of a followed state, on a followed commitment or of a
    followed type (nothing when nothing is followed)."""
    conditions: list[ColumnElement[bool]] = []
    if follows.states:
        conditions.append(
            Document.state_id.in_(select(State.id).where(State.code.in_(sorted(follows.states))))
        )
    if follows.commitments:
        numbers = _numbers(follows.commitments)
        conditions.append(
            Document.id.in_(
                select(document_commitments.c.document_id)
                .join(Commitment, Commitment.id == document_commitments.c.commitment_id)
                .where(Commitment.number.in_(numbers))
            )
        )
    types = [t for t in DocumentType if t.value in follows.types]
    if types:
        conditions.append(Document.type.in_(types))
    return or_(*conditions) if conditions else false()


def _numbers(values: Iterable[str]) -> list[int]:
    return sorted(int(v) for v in values if v.isdigit() and len(v) < 4)
