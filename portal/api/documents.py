"""Documents through the API: list, read, history; create, edit, withdraw and restore.

Each handler: authenticate (before_request) -> load or 404 -> check -> act through the same
services as the site -> answer. Unreadable documents are 404, exactly like unknown ones.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal.access import AccessDenied, Action, can
from portal.api import bp
from portal.api.auth import api_user, require_write
from portal.api.pagination import page_of
from portal.api.payloads import (
    CREATE_FIELDS,
    CREATE_REQUIRED,
    STATUS_FIELDS,
    UPDATE_FIELDS,
    changed_fields,
    check_body,
    invalid,
    json_body,
    new_fields,
)
from portal.api.problems import ApiProblem, not_found
from portal.api.serializers import (
    document_full,
    document_summary,
    etag_of,
    revision_full,
    revision_summary,
)
from portal.documents.listing import DocumentFilters, filtered_documents
from portal.documents.services import (
    EditConflict,
    InvalidDocument,
    InvalidTransition,
    create_document,
    get_document,
    restore_document,
    update_document,
    withdraw_document,
)
from portal.extensions import db
from portal.models import Document, DocumentStatus, DocumentType, Revision

MAX_REVISION_NUMBER = 2**31 - 1
_STATE_CODE = re.compile(r"[A-Za-z]{2}")
_ENTITY_TAG = re.compile(r'\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*')


def load_document(slug: str, user: Any) -> Document:
    """The document if `user` may read it; otherwise the same 404 as for an unknown slug."""
    document = get_document(slug)
    if document is None or not can(user, Action.READ, document):
        raise not_found()
    return document


def document_response(user: Any, document: Document, status: int = 200) -> Response:
    """The document as JSON with its ETag (and Location for a new one)."""
    response = jsonify(document_full(user, document))
    response.status_code = status
    response.set_etag(etag_of(document).strip('"'))
    if status == 201:
        response.headers["Location"] = url_for("api.document", slug=document.slug, _external=True)
    return response


@bp.get("/documents")
def documents() -> Response:
    """Documents the caller may read, filtered like the site's list, newest first."""
    for name in ("type", "state", "commitment"):
        if name in request.args and not request.args[name]:
            raise ApiProblem(400, _("“%(name)s” must not be empty.", name=name))
    state = request.args.get("state")
    if state is not None and not _STATE_CODE.fullmatch(state):
        raise ApiProblem(400, _("A state is given by its two-letter code, such as FR."))
    filters = DocumentFilters.from_args(request.args)
    if filters.error:
        raise ApiProblem(400, filters.error, kind="invalid-parameter")
    user = api_user()
    items, cursor = page_of(filtered_documents(user, filters), request.args)
    next_url = None
    if cursor is not None:
        args = {**filters.as_args(), "cursor": cursor}
        if "limit" in request.args:
            args["limit"] = request.args["limit"]
        next_url = url_for("api.documents", _external=True, **args)
    return jsonify({"items": [document_summary(user, d) for d in items], "next": next_url})


@bp.get("/documents/<slug>")
def document(slug: str) -> Response:
    """One document with its current revision's Markdown and stored HTML."""
    user = api_user()
    return document_response(user, load_document(slug, user))


@bp.get("/documents/<slug>/revisions")
def revisions(slug: str) -> Response:
    """Every revision of a readable document, newest first."""
    user = api_user()
    found = load_document(slug, user)
    items = [revision_summary(user, r) for r in reversed(found.revisions)]
    return jsonify({"items": items})


@bp.get("/documents/<slug>/revisions/<int:number>")
def revision(slug: str, number: int) -> Response:
    """One revision as it read then."""
    user = api_user()
    found = load_document(slug, user)
    stored = None
    if 1 <= number <= MAX_REVISION_NUMBER:
        stored = db.session.scalar(
            select(Revision).where(Revision.document_id == found.id, Revision.number == number)
        )
    if stored is None:
        raise not_found()
    return jsonify(revision_full(user, stored))


def _service_errors(error: Exception) -> ApiProblem:
    if isinstance(error, InvalidDocument):
        return invalid([{"field": error.field, "message": str(error)}])
    if isinstance(error, EditConflict):
        return ApiProblem(
            412,
            _("The document changed since the version your If-Match names. Fetch it again."),
            kind="stale-etag",
        )
    if isinstance(error, InvalidTransition):
        return ApiProblem(409, str(error), kind="invalid-transition")
    return ApiProblem(403, _("Your account may not make this change."), kind="forbidden")


@bp.post("/documents")
def create() -> Response:
    """Create a document, as the site's form would, for a token with the write scope."""
    user = require_write()
    body = json_body()
    check_body(body, CREATE_FIELDS, CREATE_REQUIRED)
    try:
        created = create_document(
            user,
            DocumentType(body["type"]),
            new_fields(user, body),
            summary=body.get("summary") or "Created",
        )
    except (InvalidDocument, AccessDenied) as error:
        db.session.rollback()
        raise _service_errors(error) from None
    db.session.commit()
    return document_response(user, created, 201)


def _base_version(document: Document) -> int:
    """The version an edit starts from, from If-Match: 428 without it, 400 if malformed."""
    header = request.headers.get("If-Match")
    if header is None:
        raise ApiProblem(
            428,
            _("Send If-Match with the document's ETag, so nobody's edit is overwritten."),
            kind="precondition-required",
        )
    if not _ENTITY_TAG.fullmatch(header):
        raise ApiProblem(400, _("If-Match must hold quoted entity tags."), kind="bad-if-match")
    if header.strip() == "*" or etag_of(document) in [t.strip() for t in header.split(",")]:
        return document.version
    return -1  # stale: the service refuses it as a conflict


def _changing(slug: str, fields: frozenset[str]) -> tuple[Any, Document, dict[str, Any]]:
    """The writer, the document they may read, and the checked body of a change."""
    user = require_write()
    found = load_document(slug, user)
    body = json_body(required=fields is not STATUS_FIELDS)
    check_body(body, fields, ())
    return user, found, body


@bp.patch("/documents/<slug>")
def update(slug: str) -> Response:
    """Change a document (fields left out keep their values); needs If-Match."""
    user, found, body = _changing(slug, UPDATE_FIELDS)
    if not can(user, Action.EDIT, found):
        raise ApiProblem(403, _("Your account may not edit this document."), kind="forbidden")
    base = _base_version(found)
    if found.status is DocumentStatus.WITHDRAWN and body.get("status") not in (None, "withdrawn"):
        raise ApiProblem(
            409,
            _("This document is withdrawn: restore it to publish it again."),
            kind="invalid-transition",
        )
    try:
        fields = changed_fields(user, found, body)
        update_document(user, found, fields, base_version=base, summary=body.get("summary", ""))
    except (InvalidDocument, AccessDenied, EditConflict) as error:
        db.session.rollback()
        raise _service_errors(error) from None
    db.session.commit()
    return document_response(user, load_document(slug, user))


def _status_change(slug: str, action: Action) -> Response:
    user, found, body = _changing(slug, STATUS_FIELDS)
    if not can(user, action, found):
        raise ApiProblem(403, _("Your account may not do that to this document."), kind="forbidden")
    if "If-Match" in request.headers and _base_version(found) != found.version:
        raise _service_errors(EditConflict(found))
    reason = body.get("reason") or ""
    try:
        if action is Action.WITHDRAW:
            withdraw_document(user, found, reason)
        else:
            restore_document(user, found, reason)
    except (InvalidTransition, AccessDenied) as error:
        db.session.rollback()
        raise _service_errors(error) from None
    db.session.commit()
    return document_response(user, load_document(slug, user))


@bp.post("/documents/<slug>/withdraw")
def withdraw(slug: str) -> Response:
    """Withdraw a document (optional JSON body: {"reason": ...}; optional If-Match)."""
    return _status_change(slug, Action.WITHDRAW)


@bp.post("/documents/<slug>/restore")
def restore(slug: str) -> Response:
    """Restore a withdrawn document to published."""
    return _status_change(slug, Action.RESTORE)
