"""JSON request bodies for document writes: parsed strictly, every field error listed (422)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import request
from flask_babel import gettext as _
from sqlalchemy import select

from portal.access import Action, can
from portal.api.problems import ApiProblem
from portal.documents.forms import MAX_SOURCE_LENGTH
from portal.documents.services import DocumentFields, get_document
from portal.extensions import db
from portal.models import Commitment, Document, DocumentStatus, DocumentType, State, Visibility
from portal.models.documents import Assessment

#: field -> (maximum length, may be null)
TEXT_FIELDS = {
    "title": (300, False),
    "source": (MAX_SOURCE_LENGTH, False),
    "organisation": (200, True),
    "summary": (300, False),
    "reason": (300, False),
    "state": (2, True),
    "responds_to": (120, True),
}
ENUMS: dict[str, tuple[type, bool]] = {
    "type": (DocumentType, False),
    "visibility": (Visibility, False),
    "status": (DocumentStatus, False),
    "assessment": (Assessment, True),
}
CREATE_FIELDS = frozenset(
    {
        "type",
        "title",
        "source",
        "visibility",
        "status",
        "state",
        "organisation",
        "commitments",
        "assessment",
        "responds_to",
        "summary",
    }
)
CREATE_REQUIRED = ("type", "title", "source", "visibility")
UPDATE_FIELDS = CREATE_FIELDS - {"type"}
STATUS_FIELDS = frozenset({"reason"})
#: Statuses a create or an edit may set; withdrawing and restoring are their own calls.
WRITABLE_STATUSES = (DocumentStatus.DRAFT, DocumentStatus.PUBLISHED)


def json_body(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object: 415 for another content type, 400 if malformed."""
    if not request.get_data(cache=True) and not required:
        return {}
    if request.mimetype != "application/json":
        raise ApiProblem(415, _("Send a JSON body with Content-Type: application/json."))
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes: not a body we could use
        body = None
    if body is None:
        raise ApiProblem(400, _("The body is not valid JSON."), kind="malformed-json")
    if not isinstance(body, dict):
        raise ApiProblem(400, _("The body must be a JSON object."), kind="malformed-json")
    return body


def _storable(text: str) -> bool:
    """Text a database can hold: no NUL character, no lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _clean_text(name: str, value: Any, errors: list[dict[str, str]]) -> None:
    limit, nullable = TEXT_FIELDS[name]
    if value is None and nullable:
        return
    if not isinstance(value, str):
        errors.append({"field": name, "message": _("Must be a string.")})
    elif len(value) > limit:
        errors.append({"field": name, "message": _("At most %(n)s characters.", n=limit)})
    elif not _storable(value):
        errors.append({"field": name, "message": _("Contains characters text may not hold.")})
    elif name in ("title", "source") and not value.strip():
        errors.append({"field": name, "message": _("Must not be blank.")})


def check_body(body: dict[str, Any], allowed: frozenset[str], required: tuple[str, ...]) -> None:
    """422 listing every unknown, missing or mistyped field of `body`."""
    errors: list[dict[str, str]] = []
    for name in sorted(set(body) - allowed):
        errors.append({"field": name, "message": _("Unknown field.")})
    for name in required:
        if name not in body:
            errors.append({"field": name, "message": _("This field is required.")})
    for name, value in body.items():
        if name not in allowed:
            continue
        if name in TEXT_FIELDS:
            _clean_text(name, value, errors)
        elif name in ENUMS:
            enum, nullable = ENUMS[name]
            valid = isinstance(value, str) and value in {e.value for e in enum}
            if not (valid or (value is None and nullable)):
                choices = ", ".join(e.value for e in enum)
                errors.append({"field": name, "message": _("One of: %(c)s.", c=choices)})
        elif name == "commitments":
            numbers = value if isinstance(value, list) else None
            if numbers is None or any(type(n) is not int or not 1 <= n <= 6 for n in numbers):
                errors.append({"field": name, "message": _("A list of numbers from 1 to 6.")})
            elif len(set(numbers)) != len(numbers):
                errors.append({"field": name, "message": _("Name each commitment once.")})
    if body.get("status") == DocumentStatus.WITHDRAWN.value:
        errors.append(
            {"field": "status", "message": _("Withdraw a document with its withdraw call.")}
        )
    if errors:
        raise invalid(errors)


def invalid(errors: list[dict[str, str]]) -> ApiProblem:
    """The 422 problem for field errors."""
    return ApiProblem(
        422, _("Some fields are not valid: see errors."), kind="validation-failed", errors=errors
    )


def _state(code: str | None) -> State | None:
    if code is None:
        return None
    state = db.session.scalar(select(State).where(State.code == code.upper()))
    if state is None:
        raise invalid([{"field": "state", "message": _("There is no state with this code.")}])
    return state


def _review(viewer: Any, slug: str | None) -> Document | None:
    if slug is None:
        return None
    review = get_document(slug)
    if review is None or not can(viewer, Action.READ, review):
        raise invalid([{"field": "responds_to", "message": _("No review you may read has it.")}])
    return review


def _commitments(numbers: list[int]) -> list[Commitment]:
    if not numbers:
        return []
    query = select(Commitment).where(Commitment.number.in_(numbers)).order_by(Commitment.number)
    return list(db.session.scalars(query))


def new_fields(viewer: Any, body: dict[str, Any]) -> DocumentFields:
    """DocumentFields for a create (body already checked)."""
    return DocumentFields(
        title=body["title"],
        source=body["source"],
        visibility=Visibility(body["visibility"]),
        status=DocumentStatus(body.get("status") or DocumentStatus.DRAFT.value),
        state=_state(body.get("state")),
        organisation=body.get("organisation"),
        commitments=_commitments(body.get("commitments") or []),
        assessment=Assessment(body["assessment"]) if body.get("assessment") else None,
        responds_to=_review(viewer, body.get("responds_to")),
    )


def changed_fields(viewer: Any, document: Document, body: dict[str, Any]) -> DocumentFields:
    """DocumentFields for an edit: fields not in `body` keep their current values."""
    keep: dict[str, Callable[[], Any]] = {
        "state": lambda: _state(body["state"]),
        "commitments": lambda: _commitments(body["commitments"]),
        "responds_to": lambda: _review(viewer, body["responds_to"]),
        "visibility": lambda: Visibility(body["visibility"]),
        "status": lambda: DocumentStatus(body["status"]),
        "assessment": lambda: Assessment(body["assessment"]) if body["assessment"] else None,
    }
    current = document.current_revision
    fields = DocumentFields(
        title=document.title,
        source=current.source if current else "",
        visibility=document.visibility,
        status=document.status,
        state=document.state,
        organisation=document.organisation,
        commitments=list(document.commitments),
    )
    changes = {
        name: keep[name]() if name in keep else body[name]
        for name in body
        if name in UPDATE_FIELDS and name != "summary"
    }
    return replace(fields, **changes)
