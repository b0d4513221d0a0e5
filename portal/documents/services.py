"""Every change to a document happens here: permission, change, revision and audit together."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from portal.access import (
    AccessDenied,
    Action,
    authorize,
    can_respond_to,
    signature,
)
from portal.audit import record_event
from portal.extensions import db
from portal.markdown import render_markdown
from portal.models import (
    Commitment,
    Document,
    DocumentStatus,
    DocumentType,
    Revision,
    State,
    Visibility,
)
from portal.models.documents import ASSESSMENT_TYPES, STATE_TYPES, Assessment
from portal.search.changes import log_search_change

MAX_SLUG_LENGTH = 120
# Path segments the documents blueprint uses itself; no document may take them.
RESERVED_SLUGS = frozenset({"new"})
_SUFFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


class EditConflict(Exception):
    """The document changed since the editor loaded it; their text must not overwrite it."""

    def __init__(self, document: Document) -> None:
        super().__init__(f"{document.slug} changed since version was loaded")
        self.document = document


class InvalidDocument(ValueError):
    """Fields that do not make a valid document of its type; `field` names the culprit."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidTransition(Exception):
    """A status change that makes no sense from the document's current status."""


@dataclass
class DocumentFields:
    """What an author supplies when creating or editing a document."""

    title: str
    source: str
    visibility: Visibility
    status: DocumentStatus = DocumentStatus.DRAFT
    state: State | None = None
    organisation: str | None = None
    commitments: Sequence[Commitment] = field(default_factory=list)
    published_on: dt.date | None = None
    lang: str | None = None  # None keeps the document's language (English for a new one)
    # Self-assessments and reviews rate progress; None on an edit keeps the rating.
    assessment: Assessment | None = None
    # The review a response answers: chosen once; None on an edit keeps it.
    responds_to: Document | None = None


def slugify(text: str, max_length: int = 80) -> str:
    """A lowercase ASCII slug for URLs: 'Licensing in Côte' -> 'licensing-in-cote'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "document"


def unique_slug(title: str) -> str:
    """A slug from the title plus a random suffix, unused by any document.

    The suffix is always there: numbering clashes ("-2") would tell an author that a
    document they may not read already has this title.
    """
    base = slugify(title, max_length=MAX_SLUG_LENGTH - 7)
    while True:
        candidate = f"{base}-{''.join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(6))}"
        if get_document(candidate) is None:
            return candidate


def _add_revision(
    document: Document, author: Any, title: str, source: str, summary: str
) -> Revision:
    number = document.current_revision.number + 1 if document.current_revision else 1
    author_id = getattr(author, "id", None)
    # The document's author keeps the document's signature on every revision: a revision
    # signed differently would link their pseudonym to their name.
    own = author_id is not None and author_id == document.author_id
    signed_as = document.signed_as if own else signature(author)
    revision = Revision(
        document=document,
        number=number,
        title=title,
        source=source,
        html=render_markdown(source),
        author_id=author_id,
        signed_as=signed_as,
        summary=summary.strip(),
    )
    if document.current_revision is not None:
        # Files carry forward unchanged (shared, not copied); portal/attachments changes them.
        revision.attachments = list(document.current_revision.attachments)
    db.session.add(revision)
    document.current_revision = revision
    return revision


def validate_fields(doc_type: DocumentType, fields: DocumentFields) -> None:
    """Raise InvalidDocument if the fields do not suit a document of this type."""
    if not fields.title.strip():
        raise InvalidDocument(_("A title is required."), "title")
    if not fields.source.strip():
        raise InvalidDocument(_("The document has no text."), "source")
    if doc_type in STATE_TYPES and fields.state is None:
        raise InvalidDocument(
            _("A %(label)s belongs to a state.", label=doc_type.label.lower()), "state"
        )
    if doc_type in ASSESSMENT_TYPES and (fields.state is None or not fields.commitments):
        raise InvalidDocument(
            _(
                "A %(label)s is of a state and at least one commitment.",
                label=doc_type.label.lower(),
            ),
            "state" if fields.state is None else "commitments",
        )
    if doc_type in ASSESSMENT_TYPES and fields.assessment is None:
        raise InvalidDocument(
            _("Choose an assessment: not started, limited, substantial or complete."), "assessment"
        )
    if doc_type not in ASSESSMENT_TYPES and fields.assessment is not None:
        raise InvalidDocument(
            _("Only self-assessments and reviews carry an assessment."), "assessment"
        )
    _validate_response(doc_type, fields)


#: Visibilities from the widest audience to the narrowest.
VISIBILITY_ORDER = (Visibility.PUBLIC, Visibility.PARTICIPANTS, Visibility.GOVERNMENT)


def _validate_response(doc_type: DocumentType, fields: DocumentFields) -> None:
    review = fields.responds_to
    if doc_type is not DocumentType.RESPONSE:
        if review is not None:
            raise InvalidDocument(_("Only a response answers a review."), "responds_to")
        return
    if review is None or review.type is not DocumentType.REVIEW:
        raise InvalidDocument(_("Choose the review this response answers."), "responds_to")
    if fields.state is None or fields.state.id != review.state_id:
        raise InvalidDocument(_("A response comes from the state the review is about."), "state")
    if VISIBILITY_ORDER.index(fields.visibility) < VISIBILITY_ORDER.index(review.visibility):
        raise InvalidDocument(
            _(
                "A response cannot be read more widely than the review it answers (%(label)s): "
                "choose that visibility or a narrower one.",
                label=review.visibility.label.lower(),
            ),
            "visibility",
        )


def _complete_response(doc_type: DocumentType, fields: DocumentFields) -> DocumentFields:
    """A response is from the reviewed state and on the review's commitments, unless given."""
    review = fields.responds_to
    if doc_type is not DocumentType.RESPONSE or review is None:
        return fields
    return replace(
        fields,
        state=fields.state or review.state,
        commitments=list(fields.commitments) or list(review.commitments),
    )


def _keep_unset(document: Document, fields: DocumentFields) -> DocumentFields:
    """An edit keeps the rating and the review answered unless it names them."""
    if fields.responds_to is not None and fields.responds_to.id != document.responds_to_id:
        raise InvalidDocument(_("A response keeps the review it answers."), "responds_to")
    return replace(
        fields,
        assessment=fields.assessment or document.assessment,
        responds_to=document.responds_to,
    )


def _apply_fields(document: Document, fields: DocumentFields) -> None:
    document.title = fields.title.strip()
    document.visibility = fields.visibility
    document.state = fields.state
    # The policy reads state_id; set it now rather than at flush so checks see the new state.
    document.state_id = fields.state.id if fields.state else None
    document.organisation = fields.organisation or None
    document.commitments = list(fields.commitments)
    document.assessment = fields.assessment
    document.responds_to = fields.responds_to
    document.responds_to_id = fields.responds_to.id if fields.responds_to else None
    if fields.lang is not None:
        document.lang = fields.lang
    if fields.published_on is not None:
        document.published_on = fields.published_on
    _set_status(document, fields.status)


def _set_status(document: Document, status: DocumentStatus) -> None:
    document.status = status
    if status is DocumentStatus.PUBLISHED and document.published_on is None:
        document.published_on = dt.date.today()


def create_document(
    user: Any,
    doc_type: DocumentType,
    fields: DocumentFields,
    *,
    slug: str | None = None,
    summary: str = "Created",
) -> Document:
    """Create a document with its first revision, if the policy lets `user` author it.

    A response also needs `can_respond_to` the review it answers.
    """
    fields = _complete_response(doc_type, fields)
    validate_fields(doc_type, fields)
    document = Document(
        lang="en",
        type=doc_type,
        slug=slug or unique_slug(fields.title),
        author_id=getattr(user, "id", None),
        signed_as=signature(user),
    )
    _apply_fields(document, fields)
    authorize(user, Action.CREATE, document)
    if fields.responds_to is not None and not can_respond_to(user, fields.responds_to):
        raise AccessDenied("respond refused")
    db.session.add(document)
    _add_revision(document, user, document.title, fields.source, summary)
    db.session.flush()
    record_event(
        user,
        "document.create",
        document,
        content=fields.source,
        slug=document.slug,
        status=document.status,
    )
    log_search_change(document.id)
    return document


def update_document(
    user: Any,
    document: Document,
    fields: DocumentFields,
    *,
    base_version: int,
    summary: str = "",
) -> Revision | None:
    """Save an edit made from `base_version`; a new revision when title or text changed.

    Raises EditConflict if someone saved in between, AccessDenied if the edit would
    take the document out of the user's reach. Returns the new revision, if any.
    """
    authorize(user, Action.EDIT, document)
    if document.version != base_version:
        raise EditConflict(document)
    fields = _keep_unset(document, fields)
    validate_fields(document.type, fields)
    before = _snapshot(document)
    # No autoflush: a save that someone else committed first must surface at the one flush
    # below, as a conflict, not in a lazy load on the way there (a 500).
    with db.session.no_autoflush:
        _apply_fields(document, fields)
        authorize(user, Action.CREATE, document)
        revision = None
        current = document.current_revision
        if current is None or current.title != document.title or current.source != fields.source:
            summary = summary or "Edited"
            revision = _add_revision(document, user, document.title, fields.source, summary)
        after = _snapshot(document)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes or revision is not None:
        document_id = document.id
        try:
            db.session.flush()
        except StaleDataError as error:
            # Someone committed between our read and our write: their save wins, ours is kept
            # by the caller (the form still holds it) and shown as a conflict.
            db.session.rollback()
            raise EditConflict(db.session.get(Document, document_id)) from error
        record_event(
            user,
            "document.update",
            document,
            content=fields.source,
            changes=changes,
            revision=revision.number if revision else None,
        )
        log_search_change(document.id)
    return revision


def _snapshot(document: Document) -> dict[str, Any]:
    return {
        "title": document.title,
        "visibility": str(document.visibility),
        "status": str(document.status),
        "state": document.state.code if document.state else None,
        "organisation": document.organisation,
        "commitments": [c.number for c in document.commitments],
        "published_on": document.published_on.isoformat() if document.published_on else None,
        "lang": document.lang,
        "assessment": str(document.assessment) if document.assessment else None,
    }


def withdraw_document(user: Any, document: Document, reason: str = "") -> None:
    """Withdraw a document: it disappears for everyone but its owners and the secretariat."""
    authorize(user, Action.WITHDRAW, document)
    if document.status is DocumentStatus.WITHDRAWN:
        raise InvalidTransition(_("This document is already withdrawn."))
    previous = document.status
    document.status = DocumentStatus.WITHDRAWN
    record_event(user, "document.withdraw", document, previous=str(previous), reason=reason)
    log_search_change(document.id)


def restore_document(user: Any, document: Document, reason: str = "") -> None:
    """Restore a withdrawn document to published."""
    authorize(user, Action.RESTORE, document)
    if document.status is not DocumentStatus.WITHDRAWN:
        raise InvalidTransition(_("Only a withdrawn document can be restored."))
    _set_status(document, DocumentStatus.PUBLISHED)
    record_event(user, "document.restore", document, reason=reason)
    log_search_change(document.id)


def get_document(slug: str) -> Document | None:
    """The document with this slug, or None."""
    # The page shows these many-to-one neighbours: one joined query instead of three more.
    neighbours = (Document.current_revision, Document.state, Document.author)
    return db.session.scalar(
        select(Document)
        .where(Document.slug == slug)
        .options(*(joinedload(relation) for relation in neighbours))
    )
