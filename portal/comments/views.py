"""Comment URLs. Each handler: load (404) -> check (403) -> call a service -> commit -> redirect.

A comment, or a document, the user may not read is a 404: its existence is never revealed.
Input the user can fix comes back as a 400 page that keeps their text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.access import (
    COMMENT_EDIT_MINUTES,
    Action,
    author_label,
    can,
    can_comment,
    can_edit_comment,
    can_flag_comment,
    can_moderate_comments,
    can_read_comment,
    can_read_hidden_comment,
    has_flagged_comment,
)
from portal.comments import services
from portal.comments.forms import MAX_ID, CommentForm, ReasonForm
from portal.comments.services import CommentConflict, InvalidComment
from portal.documents.services import get_document
from portal.extensions import db, login_manager
from portal.models import Comment, Document

bp = Blueprint("comments", __name__)


def load_document(slug: str) -> Document:
    """A document the user may read, or 404."""
    document = get_document(slug)
    if document is None or not can(current_user, Action.READ, document):
        abort(404)
    return document


def load_comment(comment_id: int) -> Comment:
    """A comment on a document the user may read, or 404."""
    comment = services.get_comment(comment_id) if 1 <= comment_id <= MAX_ID else None
    if comment is None or not can_read_comment(current_user, comment):
        abort(404)
    return comment


def _on_document(comment: Comment) -> Response:
    anchor = f"comment-{comment.id}"
    return redirect(url_for("documents.show", slug=comment.document.slug, _anchor=anchor))


def _back(comment: Comment) -> Response:
    """Moderators return to the queue if they came from it, otherwise to the comment."""
    if request.form.get("back") == "queue":
        return redirect(url_for(".queue"))
    return _on_document(comment)


def _rewrite(
    form: CommentForm,
    document: Document,
    error: str,
    status: int,
    *,
    comment: Comment | None = None,
    parent: Comment | None = None,
) -> ResponseReturnValue:
    """The comment form again, with the user's text and what to change."""
    return render_template(
        "comments/form.html",
        form=form,
        document=document,
        comment=comment,
        parent=parent,
        error=error,
    ), status


@bp.post("/documents/<slug>/comments")
def create(slug: str) -> ResponseReturnValue:
    """Post a comment on a document, or a reply to one of its comments (`parent_id`)."""
    document = load_document(slug)
    if not can_comment(current_user, document):
        abort(403)
    form = CommentForm()
    if not form.validate():
        return _rewrite(form, document, "The comment you replied to does not exist.", 400)
    parent = None
    if form.parent_id.data is not None:
        parent = services.get_comment(form.parent_id.data)
        if parent is None or parent.document_id != document.id:
            return _rewrite(form, document, "The comment you replied to does not exist.", 400)
    try:
        comment = services.add_comment(current_user, document, form.source.data or "", parent)
    except InvalidComment as error:
        db.session.rollback()
        return _rewrite(form, document, str(error), 400, parent=parent)
    db.session.commit()
    posted = _("Your comment was posted.") if parent is None else _("Your reply was posted.")
    flash(posted, "success")
    return _on_document(comment)


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
def edit(comment_id: int) -> ResponseReturnValue:
    """Edit one's own comment within the edit window."""
    comment = load_comment(comment_id)
    form = CommentForm()
    if request.method == "GET":
        if not can_edit_comment(current_user, comment, services.utcnow()):
            abort(403)
        form.source.data = comment.source
        return render_template(
            "comments/form.html", form=form, document=comment.document, comment=comment
        )
    if not can_edit_comment(current_user, comment, services.utcnow()):
        if comment.author_id != getattr(current_user, "id", None):
            abort(403)
        # The author took longer than the window: keep their text so it is not lost.
        message = (
            f"This comment can no longer be edited (comments can be edited for "
            f"{COMMENT_EDIT_MINUTES} minutes, while they are not hidden). Your text is below: "
            "copy it if you want to post it as a new comment."
        )
        return _rewrite(form, comment.document, message, 403, comment=comment)
    try:
        services.edit_comment(current_user, comment, form.source.data or "")
    except InvalidComment as error:
        db.session.rollback()
        return _rewrite(form, comment.document, str(error), 400, comment=comment)
    db.session.commit()
    flash(_("Your comment was changed."), "success")
    return _on_document(comment)


def _reason_page(
    comment: Comment, form: ReasonForm, action: str, error: str
) -> ResponseReturnValue:
    return render_template(
        "comments/reason.html", comment=comment, form=form, action=action, error=error
    ), 400


@bp.post("/comments/<int:comment_id>/flag")
def flag(comment_id: int) -> ResponseReturnValue:
    """Flag someone else's comment for the secretariat, with an optional reason."""
    comment = load_comment(comment_id)
    if has_flagged_comment(current_user, comment):
        abort(409, description=_(
            "You have already flagged this comment; the secretariat will look.",
        ))
    if not can_flag_comment(current_user, comment):
        abort(403)
    form = ReasonForm()
    try:
        services.flag_comment(current_user, comment, form.reason.data or "")
    except InvalidComment as error:
        db.session.rollback()
        return _reason_page(comment, form, "flag", str(error))
    except CommentConflict as error:
        db.session.rollback()
        abort(409, description=str(error))
    db.session.commit()
    flash(_("Thank you: the secretariat will look at this comment."), "success")
    return _on_document(comment)


def _moderate(comment_id: int) -> Comment:
    comment = load_comment(comment_id)
    if not can_moderate_comments(current_user):
        abort(403)
    return comment


@bp.post("/comments/<int:comment_id>/hide")
def hide(comment_id: int) -> ResponseReturnValue:
    """Hide a comment behind a placeholder with the secretariat's reason."""
    comment = _moderate(comment_id)
    form = ReasonForm()
    try:
        services.hide_comment(current_user, comment, form.reason.data or "")
    except InvalidComment as error:
        db.session.rollback()
        return _reason_page(comment, form, "hide", str(error))
    except CommentConflict as error:
        db.session.rollback()
        abort(409, description=str(error))
    db.session.commit()
    flash(_("The comment is hidden."), "success")
    return _back(comment)


@bp.post("/comments/<int:comment_id>/restore")
def restore(comment_id: int) -> ResponseReturnValue:
    """Show a hidden comment again."""
    comment = _moderate(comment_id)
    return _moderation_step(comment, services.restore_comment, _("The comment is shown again."))


@bp.post("/comments/<int:comment_id>/dismiss-flags")
def dismiss_flags(comment_id: int) -> ResponseReturnValue:
    """Keep a flagged comment as it is and close its flags."""
    comment = _moderate(comment_id)
    return _moderation_step(
        comment, services.dismiss_flags, _("The flags are closed; the comment stays.")
    )


def _moderation_step(
    comment: Comment, step: Callable[[Any, Comment], None], done: str
) -> ResponseReturnValue:
    """Run a moderation service; a step that no longer applies is a 409."""
    try:
        step(current_user, comment)
    except CommentConflict as error:
        db.session.rollback()
        abort(409, description=str(error))
    db.session.commit()
    flash(done, "success")
    return _back(comment)


@bp.get("/admin/comments")
def queue() -> ResponseReturnValue:
    """The moderation queue: flagged comments first, then recently hidden ones."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not can_moderate_comments(current_user):
        abort(403)
    flagged, hidden = services.moderation_queue(current_user)
    return render_template("comments/queue.html", flagged=flagged, hidden=hidden)


@dataclass(frozen=True)
class Thread:
    """The comments on a document as the viewer may see them."""

    comments: list[Comment]
    can_comment: bool

    @property
    def count(self) -> int:
        """Comments and replies together."""
        return sum(1 + len(comment.replies) for comment in self.comments)


def comments_for(document: Document) -> Thread:
    """The thread under a document: empty for anyone who may not read the document."""
    if not can(current_user, Action.READ, document):
        return Thread([], False)
    return Thread(services.comments_on(document), can_comment(current_user, document))


@bp.app_context_processor
def comment_helpers() -> dict[str, Any]:
    """Template functions for comment threads, each answering for the signed-in user."""
    return {
        "comments_for": comments_for,
        "comment_author": lambda comment: author_label(
            current_user, comment.author, comment.signed_as
        ),
        "person_label": lambda person: author_label(current_user, person),
        "can_edit_comment": lambda comment: can_edit_comment(
            current_user, comment, services.utcnow()
        ),
        "can_flag_comment": lambda comment: can_flag_comment(current_user, comment),
        "has_flagged_comment": lambda comment: has_flagged_comment(current_user, comment),
        "can_moderate_comments": lambda: can_moderate_comments(current_user),
        "can_read_hidden_comment": lambda: can_read_hidden_comment(current_user),
        "MAX_COMMENT_LENGTH": services.MAX_COMMENT_LENGTH,
        "COMMENT_EDIT_MINUTES": COMMENT_EDIT_MINUTES,
    }
