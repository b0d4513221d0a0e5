"""Comment services: the only place comments and flags change.

Each function checks the policy (portal/access.py), changes the data and records an
audit event in the caller's transaction; the view commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal.access import (
    AccessDenied,
    can_comment,
    can_edit_comment,
    can_flag_comment,
    can_moderate_comments,
    has_flagged_comment,
    signature,
    visible_comments,
)
from portal.audit import record_event
from portal.clock import utcnow
from portal.extensions import db
from portal.markdown import render_markdown
from portal.models import Comment, CommentFlag, Document

MAX_COMMENT_LENGTH = 5_000
MAX_REASON_LENGTH = 500
RECENTLY_HIDDEN = 50


class InvalidComment(ValueError):
    """Input the user can correct (empty, too long, a reply too deep); the message says how."""


class CommentConflict(Exception):
    """The comment is not in a state that allows this (already flagged, hidden, restored)."""



def get_comment(comment_id: int) -> Comment | None:
    """The comment with this id, or None."""
    return db.session.get(Comment, comment_id)


def _clean_source(source: str) -> str:
    """The comment's Markdown with browser line endings unified, or InvalidComment."""
    text = source.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidComment(_("Write something before posting: the comment is empty."))
    if len(text) > MAX_COMMENT_LENGTH:
        limit, length = f"{MAX_COMMENT_LENGTH:,}", f"{len(text):,}"
        raise InvalidComment(
            _(
                "A comment can be at most %(limit)s characters; this one has %(length)s. "
                "Shorten it, or split it into two comments.",
                limit=limit,
                length=length,
            )
        )
    return text


def _clean_reason(reason: str, *, required: bool) -> str:
    text = " ".join(reason.split())
    if required and not text:
        raise InvalidComment(_("Give a reason: it is shown in place of the comment."))
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidComment(_(
            "A reason can be at most %(MAX_REASON_LENGTH)s characters.",
            MAX_REASON_LENGTH=MAX_REASON_LENGTH,
        ))
    return text


def add_comment(
    author: Any,
    document: Document,
    source: str,
    parent: Comment | None = None,
    *,
    now: dt.datetime | None = None,
) -> Comment:
    """Comment on a document, or reply to one of its top-level comments (one level deep)."""
    if not can_comment(author, document):
        raise AccessDenied("comment refused")
    if parent is not None:
        if parent.document_id != document.id:
            raise InvalidComment(_("The comment you replied to is not on this document."))
        if parent.parent_id is not None:
            raise InvalidComment(
                _("Replies go one level deep: reply to the comment that starts the thread.")
            )
        if parent.is_hidden:
            raise InvalidComment(_("The secretariat hid this comment, so it takes no replies."))
    text = _clean_source(source)
    comment = Comment(
        signed_as=signature(author),
        document_id=document.id,
        parent_id=parent.id if parent is not None else None,
        author_id=author.id,
        source=text,
        html=render_markdown(text),
        created_at=now or utcnow(),
    )
    db.session.add(comment)
    db.session.flush()
    record_event(
        author,
        "comment.create",
        comment,
        content=text,
        document_id=document.id,
        parent_id=comment.parent_id,
    )
    return comment


def edit_comment(
    editor: Any, comment: Comment, source: str, *, now: dt.datetime | None = None
) -> Comment:
    """Change a comment's text: its author, within the edit window; marks it edited."""
    now = now or utcnow()
    if not can_edit_comment(editor, comment, now):
        raise AccessDenied("comment edit refused")
    text = _clean_source(source)
    comment.source, comment.html, comment.edited_at = text, render_markdown(text), now
    record_event(editor, "comment.edit", comment, content=text, document_id=comment.document_id)
    return comment


def flag_comment(user: Any, comment: Comment, reason: str = "") -> CommentFlag:
    """Ask the secretariat to look at someone else's comment (once per person)."""
    if has_flagged_comment(user, comment):
        raise CommentConflict(_(
            "You have already flagged this comment; the secretariat will look.",
        ))
    if not can_flag_comment(user, comment):
        raise AccessDenied("flag refused")
    text = _clean_reason(reason, required=False)
    flag = CommentFlag(comment_id=comment.id, user_id=user.id, reason=text, created_at=utcnow())
    try:
        with db.session.begin_nested():  # a second click racing the first
            db.session.add(flag)
    except IntegrityError as error:
        raise CommentConflict(_("You have already flagged this comment.")) from error
    db.session.expire(comment, ["flags"])
    record_event(user, "comment.flag", comment, document_id=comment.document_id, reason=text)
    return flag


def hide_comment(
    moderator: Any, comment: Comment, reason: str, *, now: dt.datetime | None = None
) -> Comment:
    """Hide a comment behind a placeholder giving the reason; its open flags are resolved."""
    if not can_moderate_comments(moderator):
        raise AccessDenied("moderation refused")
    if comment.is_hidden:
        raise CommentConflict(_("This comment is already hidden."))
    text = _clean_reason(reason, required=True)
    now = now or utcnow()
    comment.hidden_at, comment.hidden_by_id, comment.hidden_reason = now, moderator.id, text
    resolved = _resolve_flags(comment, now)
    record_event(
        moderator,
        "comment.hide",
        comment,
        document_id=comment.document_id,
        reason=text,
        flags_resolved=resolved,
    )
    return comment


def restore_comment(moderator: Any, comment: Comment) -> Comment:
    """Show a hidden comment again."""
    if not can_moderate_comments(moderator):
        raise AccessDenied("moderation refused")
    if not comment.is_hidden:
        raise CommentConflict(_("This comment is not hidden."))
    reason = comment.hidden_reason
    comment.hidden_at, comment.hidden_by_id, comment.hidden_reason = None, None, ""
    record_event(
        moderator,
        "comment.restore",
        comment,
        document_id=comment.document_id,
        hidden_reason=reason,
    )
    return comment


def dismiss_flags(moderator: Any, comment: Comment) -> Comment:
    """Keep a flagged comment as it is: its open flags are resolved."""
    if not can_moderate_comments(moderator):
        raise AccessDenied("moderation refused")
    resolved = _resolve_flags(comment, utcnow())
    if not resolved:
        raise CommentConflict(_("This comment has no open flags."))
    record_event(
        moderator,
        "comment.dismiss_flags",
        comment,
        document_id=comment.document_id,
        flags_resolved=resolved,
    )
    return comment


def _resolve_flags(comment: Comment, now: dt.datetime) -> int:
    open_flags = [flag for flag in comment.flags if flag.resolved_at is None]
    for flag in open_flags:
        flag.resolved_at = now
    return len(open_flags)


def comments_on(document: Document) -> list[Comment]:
    """The document's top-level comments, oldest first, replies and flags loaded.

    The caller has checked that the viewer may read the document.
    """
    query = (
        select(Comment)
        .where(Comment.document_id == document.id, Comment.parent_id.is_(None))
        .order_by(Comment.created_at, Comment.id)
        .options(
            selectinload(Comment.author),
            selectinload(Comment.flags),
            selectinload(Comment.replies).selectinload(Comment.author),
            selectinload(Comment.replies).selectinload(Comment.flags),
        )
    )
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class FlaggedComment:
    """A comment in the moderation queue with its open flags."""

    comment: Comment
    flags: list[CommentFlag]


#: What the moderation queue shows of each comment, loaded in a few queries, not per row.
_QUEUE_LOADING = (
    selectinload(Comment.flags).selectinload(CommentFlag.user),
    selectinload(Comment.author),
    selectinload(Comment.document),
)


def moderation_queue(moderator: Any) -> tuple[list[FlaggedComment], list[Comment]]:
    """Comments with open flags (most flagged first), then the most recently hidden ones."""
    if not can_moderate_comments(moderator):
        raise AccessDenied("moderation refused")
    open_flags = func.count(CommentFlag.id)
    flagged = db.session.execute(
        select(Comment, open_flags)
        .join(CommentFlag, CommentFlag.comment_id == Comment.id)
        .where(CommentFlag.resolved_at.is_(None), visible_comments(moderator))
        .group_by(Comment.id)
        .order_by(open_flags.desc(), func.min(CommentFlag.created_at), Comment.id)
        .options(*_QUEUE_LOADING)
    ).all()
    hidden = db.session.scalars(
        select(Comment)
        .options(*_QUEUE_LOADING)
        .where(Comment.hidden_at.is_not(None), visible_comments(moderator))
        .order_by(Comment.hidden_at.desc(), Comment.id.desc())
        .limit(RECENTLY_HIDDEN)
    )
    queue = [
        FlaggedComment(comment, [f for f in comment.flags if f.resolved_at is None])
        for comment, _count in flagged
    ]
    return queue, list(hidden)
