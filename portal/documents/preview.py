"""The editor's live preview: Markdown in, the portal's own sanitised HTML out.

The browser never renders Markdown itself: what the preview shows is exactly what
`portal.markdown.render_markdown` will store when the document is saved.
"""

from __future__ import annotations

import json

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from portal.access import can_preview_markdown
from portal.documents.forms import MAX_SOURCE_LENGTH
from portal.documents.views import bp
from portal.markdown import render_markdown

#: The largest request body accepted: a longest document in 4-byte UTF-8, plus the JSON around it.
MAX_PREVIEW_BYTES = 4 * MAX_SOURCE_LENGTH + 1024


class PreviewRefused(ValueError):
    """A preview request that cannot be rendered; carries the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def source_from_body(body: bytes) -> str:
    """The Markdown in a preview request body `{"source": "..."}`, or PreviewRefused."""
    if len(body) > MAX_PREVIEW_BYTES:
        raise PreviewRefused(_("The text is too long to preview."), 413)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: deep nesting
        raise PreviewRefused(_("The preview request was not valid JSON in UTF-8.")) from None
    source = payload.get("source") if isinstance(payload, dict) else None
    if not isinstance(source, str):
        raise PreviewRefused(_("The preview request has no text to render."))
    if len(source) > MAX_SOURCE_LENGTH:
        raise PreviewRefused(_("The text is too long to preview."), 413)
    if "\x00" in source:
        raise PreviewRefused(_("The text contains a NUL character, which is not allowed."))
    return source


@bp.post("/preview")
def preview() -> ResponseReturnValue:
    """Render Markdown for the editor: JSON {"source"} -> {"html"}; CSRF token in X-CSRFToken."""
    if not can_preview_markdown(current_user):
        return jsonify(error=_("Please sign in to preview.")), 401
    # Refuse by the declared length before reading anything larger than a document.
    if (request.content_length or 0) > MAX_PREVIEW_BYTES:
        return jsonify(error=_("The text is too long to preview.")), 413
    try:
        source = source_from_body(request.get_data(cache=False))
    except PreviewRefused as refused:
        return jsonify(error=str(refused)), refused.status
    response = jsonify(html=render_markdown(source))
    response.headers["Cache-Control"] = "no-store"
    return response
