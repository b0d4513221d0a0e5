"""Documents and their revisions: every edit keeps a revision."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Any, ClassVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models import Base, str_enum
from portal.models.states import Commitment, State
from portal.models.users import User

if TYPE_CHECKING:
    from portal.models.attachments import Attachment


class DocumentType(enum.StrEnum):
    """The kinds of document participants publish."""

    IMPLEMENTATION_NOTE = "implementation_note"
    LESSON_LEARNED = "lesson_learned"
    EMERGING_RISK = "emerging_risk"
    PLENARY_OUTCOME = "plenary_outcome"
    PRACTICE_NOTE = "practice_note"
    REVIEW = "review"
    PAGE = "page"
    SELF_ASSESSMENT = "self_assessment"
    RESPONSE = "response"

    @property
    def label(self) -> str:
        """The type as people write it, in the interface language."""
        return str(DOCUMENT_TYPE_LABELS[self])


#: Labels in the interface language; lazy, so module-level form choices can use them too.
DOCUMENT_TYPE_LABELS = {
    DocumentType.IMPLEMENTATION_NOTE: _l("Implementation note"),
    DocumentType.LESSON_LEARNED: _l("Lesson learned"),
    DocumentType.EMERGING_RISK: _l("Emerging risk"),
    DocumentType.PLENARY_OUTCOME: _l("Plenary outcome"),
    DocumentType.PRACTICE_NOTE: _l("Practice note"),
    DocumentType.REVIEW: _l("Review"),
    DocumentType.PAGE: _l("Page"),
    DocumentType.SELF_ASSESSMENT: _l("Self assessment"),
    DocumentType.RESPONSE: _l("Response"),
}


# Documents a subscribing state publishes about itself: it owns them.
STATE_TYPES = frozenset(
    {
        DocumentType.IMPLEMENTATION_NOTE,
        DocumentType.LESSON_LEARNED,
        DocumentType.EMERGING_RISK,
        DocumentType.SELF_ASSESSMENT,
        DocumentType.RESPONSE,
    }
)
#: Documents that rate a state's progress on its commitments.
ASSESSMENT_TYPES = frozenset({DocumentType.SELF_ASSESSMENT, DocumentType.REVIEW})


class Assessment(enum.StrEnum):
    """Progress on a commitment, on the Open Government Partnership's reporting scale."""

    NOT_STARTED = "not_started"
    LIMITED = "limited"
    SUBSTANTIAL = "substantial"
    COMPLETE = "complete"

    @property
    def label(self) -> str:
        """The rating as people write it, in the interface language."""
        return str(ASSESSMENT_LABELS[self])


ASSESSMENT_LABELS = {
    Assessment.NOT_STARTED: _l("Not started"),
    Assessment.LIMITED: _l("Limited"),
    Assessment.SUBSTANTIAL: _l("Substantial"),
    Assessment.COMPLETE: _l("Complete"),
}


class Visibility(enum.StrEnum):
    """Who may read a published document, from widest to narrowest audience."""

    PUBLIC = "public"
    PARTICIPANTS = "participants"
    GOVERNMENT = "government"

    @property
    def label(self) -> str:
        """The visibility as people write it, in the interface language."""
        return str(VISIBILITY_LABELS[self])


VISIBILITY_LABELS = {
    Visibility.PUBLIC: _l("Public"),
    Visibility.PARTICIPANTS: _l("Participants"),
    Visibility.GOVERNMENT: _l("Government"),
}


class DocumentStatus(enum.StrEnum):
    """Where a document is in its life."""

    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """The status as people write it, in the interface language."""
        return str(DOCUMENT_STATUS_LABELS[self])


DOCUMENT_STATUS_LABELS = {
    DocumentStatus.DRAFT: _l("Draft"),
    DocumentStatus.PUBLISHED: _l("Published"),
    DocumentStatus.WITHDRAWN: _l("Withdrawn"),
}


document_commitments = Table(
    "document_commitments",
    Base.metadata,
    Column("document_id", ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
    Column("commitment_id", ForeignKey("commitments.id"), primary_key=True, index=True),
)


class Document(Base):
    """A piece of shared practice. Its text lives in revisions; `current_revision` is the latest.

    `state` is the state that wrote the document (for STATE_TYPES, its owner) or the state it
    is about (a civil-society review); `organisation` names a non-state author's body.
    """

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    type: Mapped[DocumentType] = mapped_column(str_enum(DocumentType, "document_type"))
    title: Mapped[str] = mapped_column(String(300))
    state_id: Mapped[int | None] = mapped_column(ForeignKey("states.id"), index=True)
    organisation: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The organisation or pseudonym a civil-society author signed with (None: their name),
    # kept as written: later changes to the account never unmask earlier work.
    signed_as: Mapped[str | None] = mapped_column(String(200))
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility, "visibility"))
    status: Mapped[DocumentStatus] = mapped_column(str_enum(DocumentStatus, "document_status"))
    published_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    lang: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # Checksum of the content/ file this document was last loaded from, so that reloading an
    # unchanged file is a no-op even after the document was edited on the site.
    content_checksum: Mapped[str | None] = mapped_column(String(64))
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("revisions.id", use_alter=True)
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # Self-assessments and reviews rate progress on their commitments (OGP scale).
    assessment: Mapped[Assessment | None] = mapped_column(str_enum(Assessment, "assessment"))
    # A state's response to a review of it.
    responds_to_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    # Optimistic locking: an edit names the version it started from; a stale one is refused.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    state: Mapped[State | None] = relationship()
    author: Mapped[User | None] = relationship()
    responds_to: Mapped[Document | None] = relationship(remote_side=[id])
    commitments: Mapped[list[Commitment]] = relationship(
        secondary=document_commitments, order_by=Commitment.number
    )
    current_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[current_revision_id], post_update=True
    )
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="document",
        foreign_keys="Revision.document_id",
        order_by="Revision.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @property
    def owning_state_id(self) -> int | None:
        """The state that owns this document, if it is a state's own document."""
        return self.state_id if self.type in STATE_TYPES else None

    def __repr__(self) -> str:
        return f"<Document {self.slug}>"


class Revision(Base):
    """One saved version of a document: Markdown source and the sanitised HTML made from it."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_revisions_document_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_as: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    summary: Mapped[str] = mapped_column(String(300), default="", server_default="")

    document: Mapped[Document] = relationship(
        back_populates="revisions", foreign_keys=[document_id]
    )
    author: Mapped[User | None] = relationship()
    # The files this revision has (portal/models/attachments.py); a new revision carries
    # the previous one's forward.
    attachments: Mapped[list[Attachment]] = relationship(
        secondary="revision_attachments", order_by="Attachment.filename, Attachment.id"
    )

    def __repr__(self) -> str:
        return f"<Revision {self.document_id}#{self.number}>"
