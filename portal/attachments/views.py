"""Downloading attached files: only through these routes, asking the access policy each time.

Load the document (404 unless the user may read it), then the revision, then the file (404
unless that revision has it), then send it. There is no other URL for a stored file.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from portal.access import Action, can
from portal.attachments.services import find_file
from portal.attachments.storage import stored_path
from portal.documents.views import load_document, load_revision
from portal.models import Document, Revision

log = logging.getLogger("portal.attachments")
bp = Blueprint("attachments", __name__, url_prefix="/documents")
#: How long browsers and shared caches may keep a file anyone may read.
PUBLIC_MAX_AGE = 300


@bp.get("/<slug>/files/<int:attachment_id>")
def download(slug: str, attachment_id: int) -> ResponseReturnValue:
    """A file of the document's current revision."""
    document = load_document(slug)
    revision = document.current_revision
    if revision is None:
        abort(404)
    return _send(document, revision, attachment_id)


@bp.get("/<slug>/revisions/<int:number>/files/<int:attachment_id>")
def revision_download(slug: str, number: int, attachment_id: int) -> ResponseReturnValue:
    """A file as revision `number` had it (it may since have been replaced or removed)."""
    document = load_document(slug)
    return _send(document, load_revision(document, number), attachment_id)


def _send(document: Document, revision: Revision, attachment_id: int) -> Response:
    attachment = find_file(revision, attachment_id)
    if attachment is None:
        abort(404)
    path = stored_path(attachment.storage_name)
    if not path.is_file():
        log.error("attachment %s of %s is missing from storage", attachment.id, document.slug)
        abort(404, description=_("This file is not available. The secretariat has been told."))
    response = send_file(
        path,
        mimetype=attachment.media_type,
        as_attachment=not attachment.is_inline,
        download_name=attachment.filename,
        conditional=True,
        etag=attachment.sha256,
        max_age=None,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = _cache_control(document)
    return response


def _cache_control(document: Document) -> str:
    """Shared caches keep only what a visitor may read; everything else is never stored."""
    if can(None, Action.READ, document):
        return f"public, max-age={PUBLIC_MAX_AGE}"
    return "private, no-store"
