"""Between the document form and the services: choices from the policy, fields from the form."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from wtforms import SelectChoice

from portal.access import (
    choosable_state_ids,
    choosable_visibilities,
    creatable_types,
    default_organisation,
)
from portal.assessments.form_fields import (
    assessment_values,
    fill_assessment_defaults,
    prepare_assessment_fields,
)
from portal.attachments.uploads import prepare_file_fields
from portal.documents.forms import DocumentForm
from portal.documents.services import DocumentFields
from portal.extensions import db
from portal.models import Commitment, Document, DocumentStatus, DocumentType, State, Visibility


def prepare_form(
    form: DocumentForm, user: Any, doc_type: DocumentType, document: Document | None = None
) -> bool:
    """Fill the form's choices with what `user` may choose; False if they may not write this type.

    When editing, the document's current values are always offered so a secretariat edit of
    an older document does not silently change them.
    """
    if document is None and doc_type not in creatable_types(user):
        return False
    allowed = choosable_state_ids(user)
    states = db.session.scalars(select(State).order_by(State.name)).all()
    form.state.choices = [SelectChoice("", "— none —")] + [
        SelectChoice(s.code, s.name)
        for s in states
        if allowed is None or s.id in allowed or (document and s.id == document.state_id)
    ]
    form.commitments.choices = [
        SelectChoice(c.number, f"{c.number}. {c.title}")
        for c in db.session.scalars(select(Commitment).order_by(Commitment.number))
    ]
    visibilities = choosable_visibilities(user)
    form.visibility.choices = [SelectChoice(v.value, v.label) for v in visibilities]
    if document is not None and document.status is DocumentStatus.WITHDRAWN:
        # Editing keeps a withdrawn document withdrawn; restoring is its own action.
        form.status.choices = [
            SelectChoice("withdrawn", "Withdrawn: restore it to publish it again")
        ]
    if document is not None and form.version.data is None:
        form.version.data = str(document.version)
    if not form.is_submitted():
        _fill_defaults(form, user, document, visibilities)
    prepare_assessment_fields(form, user, doc_type, document)
    prepare_file_fields(form, document)
    return True


def _fill_defaults(
    form: DocumentForm, user: Any, document: Document | None, visibilities: list[Visibility]
) -> None:
    if document is not None:
        form.title.data = document.title
        form.organisation.data = document.organisation
        form.state.data = document.state.code if document.state else ""
        form.commitments.data = [c.number for c in document.commitments]
        form.visibility.data = document.visibility.value
        form.status.data = document.status.value
        form.source.data = document.current_revision.source if document.current_revision else ""
        form.summary.data = ""
        form.version.data = str(document.version)
        fill_assessment_defaults(form, document)
        return
    if getattr(user, "state", None) is not None:
        form.state.data = user.state.code
    form.organisation.data = default_organisation(user)
    if visibilities:
        form.visibility.data = visibilities[0].value


def document_fields(form: DocumentForm, doc_type: DocumentType) -> DocumentFields:
    """The services' view of a submitted, validated form."""
    code = form.state.data or None
    state = db.session.scalar(select(State).where(State.code == code)) if code else None
    commitments = list(
        db.session.scalars(
            select(Commitment).where(Commitment.number.in_(form.commitments.data or []))
        )
    )
    assessment, responds_to = assessment_values(form)
    return DocumentFields(
        title=form.title.data or "",
        source=form.source.data or "",
        visibility=Visibility(form.visibility.data),
        status=DocumentStatus(form.status.data),
        state=state,
        organisation=form.organisation.data or None,
        commitments=commitments,
        assessment=assessment,
        responds_to=responds_to,
    )
