"""Comments on documents, flags raised on them, and the secretariat's moderation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models import Base
from portal.models.users import User

if TYPE_CHECKING:
    from portal.models.documents import Document


class Comment(Base):
    """A comment on a document, or a reply to one (one level deep).

    It has no visibility of its own: whoever may read the document reads its comments.
    A hidden comment leaves a placeholder with the moderator's reason.
    """

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # As on documents: the signature used when the comment was written (None: the name).
    signed_as: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    edited_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hidden_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    document: Mapped[Document] = relationship()
    replies: Mapped[list[Comment]] = relationship(order_by="Comment.id")
    flags: Mapped[list[CommentFlag]] = relationship(
        back_populates="comment", order_by="CommentFlag.id", passive_deletes=True
    )

    @property
    def is_hidden(self) -> bool:
        """Hidden by the secretariat."""
        return self.hidden_at is not None


class CommentFlag(Base):
    """A participant's report that a comment needs the secretariat's attention."""

    __tablename__ = "comment_flags"
    __table_args__ = (UniqueConstraint("comment_id", "user_id", name="uq_comment_flags_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    comment: Mapped[Comment] = relationship(back_populates="flags")
    user: Mapped[User] = relationship()
