"""The document form's assessment fields: a rating for self-assessments and reviews, the
review answered for responses. Other types do not have these fields at all."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectChoice

from portal.access import Action, can, respondable_reviews
from portal.documents.forms import DocumentForm
from portal.extensions import db
from portal.models import Assessment, Document, DocumentType, State
from portal.models.documents import ASSESSMENT_TYPES


def prepare_assessment_fields(
    form: DocumentForm, user: Any, doc_type: DocumentType, document: Document | None
) -> None:
    """Drop the fields `doc_type` does not have; offer the reviews `user` may respond to.

    An edit keeps the review a response answers, so it is the only choice then.
    """
    if doc_type not in ASSESSMENT_TYPES:
        del form.assessment
    if doc_type is not DocumentType.RESPONSE:
        del form.responds_to
        return
    if document is not None:
        reviews = [document.responds_to] if document.responds_to else []
    else:
        reviews = list(
            db.session.scalars(
                select(Document)
                .join(State, State.id == Document.state_id)
                .where(respondable_reviews(user))
                .order_by(State.name, Document.published_on.desc(), Document.id.desc())
            )
        )
    form.responds_to.choices = [SelectChoice("", "— choose a review —")] + [
        SelectChoice(r.slug, review_choice_label(r) if can(user, Action.READ, r) else UNREADABLE)
        for r in reviews
    ]
    if not form.is_submitted():
        wanted = document.responds_to.slug if document and document.responds_to else None
        wanted = wanted or request.args.get("responds_to", "")
        if any(r.slug == wanted for r in reviews):
            form.responds_to.data = wanted
            review = next(r for r in reviews if r.slug == wanted)
            if document is None and review.state is not None:
                form.state.data = review.state.code


UNREADABLE = _l("A review you cannot read")


def review_choice_label(review: Document) -> str:
    """How a review is named in the choice of the review a response answers."""
    state = review.state.name if review.state else "No state"
    date = review.published_on.isoformat() if review.published_on else "unpublished"
    return f"{state}: {review.title} ({date})"


def fill_assessment_defaults(form: DocumentForm, document: Document) -> None:
    """Show the document's current rating when editing."""
    if "assessment" in form and document.assessment is not None:
        form.assessment.data = document.assessment.value


def assessment_values(form: DocumentForm) -> tuple[Assessment | None, Document | None]:
    """The submitted rating and the review answered (None where the type has no such field)."""
    rating = form.assessment.data if "assessment" in form else None
    slug = form.responds_to.data if "responds_to" in form else None
    review = db.session.scalar(select(Document).where(Document.slug == slug)) if slug else None
    return (Assessment(rating) if rating else None), review
