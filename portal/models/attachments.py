"""Files attached to documents. Which files a revision has is recorded per revision."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models import Base
from portal.models.users import User

if TYPE_CHECKING:
    from portal.models.documents import Document

#: The files each revision has: unchanged files carry forward without being copied.
revision_attachments = Table(
    "revision_attachments",
    Base.metadata,
    Column("revision_id", ForeignKey("revisions.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "attachment_id",
        ForeignKey("attachments.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Attachment(Base):
    """One stored file of a document. It has no visibility of its own: its document's rules
    (and its revisions') decide who may fetch it.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("size >= 0", name="size_not_negative"),
        CheckConstraint("length(sha256) = 64", name="sha256_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    # A random name under FILES_DIR; never derived from what the uploader typed.
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Extracted text (indexed with the document), or a note saying why there is none.
    text: Mapped[str | None] = mapped_column(Text, deferred=True)  # only search reads it
    text_note: Mapped[str | None] = mapped_column(String(300))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    document: Mapped[Document] = relationship()
    uploaded_by: Mapped[User | None] = relationship()

    @property
    def is_inline(self) -> bool:
        """PDFs and images open in the browser; everything else is downloaded."""
        return self.media_type == "application/pdf" or self.media_type.startswith("image/")

    def __repr__(self) -> str:
        return f"<Attachment {self.id} {self.filename}>"
