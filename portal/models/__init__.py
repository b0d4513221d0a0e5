"""The data model. Base carries the naming convention Alembic needs for stable names."""

from __future__ import annotations

import enum

from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model; shares one MetaData with Flask-SQLAlchemy."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def str_enum(enum_cls: type[enum.StrEnum], name: str) -> Enum:
    """A column type storing a StrEnum's values as checked VARCHAR, the same on every database."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum_cls),
        values_callable=lambda members: [member.value for member in members],
    )


# Imported after Base exists: each module subclasses it.
from portal.models.accounts import (  # noqa: E402
    Invitation,
    PasswordReset,
    RecoveryCode,
    UserSession,
)
from portal.models.attachments import Attachment  # noqa: E402
from portal.models.audit import AuditChainHead, AuditEvent  # noqa: E402
from portal.models.comments import Comment, CommentFlag  # noqa: E402
from portal.models.documents import (  # noqa: E402
    Assessment,
    Document,
    DocumentStatus,
    DocumentType,
    Revision,
    Visibility,
)
from portal.models.integration import (  # noqa: E402
    ApiToken,
    FeedToken,
    Subscription,
    SubscriptionKind,
)
from portal.models.plenaries import (  # noqa: E402
    ActionItem,
    ActionStatus,
    ActionStatusChange,
    AdoptionMethod,
    MinutesComment,
    MinutesRevision,
    MinutesRevisionKind,
    MinutesStatus,
    Plenary,
)
from portal.models.search import SearchChange  # noqa: E402
from portal.models.states import Commitment, State  # noqa: E402
from portal.models.users import Attribution, DigestPeriod, Role, User  # noqa: E402

__all__ = [
    "ActionItem",
    "ActionStatus",
    "ActionStatusChange",
    "AdoptionMethod",
    "ApiToken",
    "Assessment",
    "Attachment",
    "Attribution",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Comment",
    "CommentFlag",
    "Commitment",
    "DigestPeriod",
    "Document",
    "DocumentStatus",
    "DocumentType",
    "FeedToken",
    "Invitation",
    "MinutesComment",
    "MinutesRevision",
    "MinutesRevisionKind",
    "MinutesStatus",
    "PasswordReset",
    "Plenary",
    "RecoveryCode",
    "Revision",
    "Role",
    "SearchChange",
    "State",
    "Subscription",
    "SubscriptionKind",
    "User",
    "UserSession",
    "Visibility",
]
