"""Files attached to documents: upload limits, download routes, template helpers."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from portal.attachments.kinds import BY_MEDIA_TYPE
from portal.attachments.storage import max_upload_bytes, upload_limit_label
from portal.errors import render_error
from portal.models import Attachment, Revision

#: The pages that accept files; every other request keeps MAX_CONTENT_LENGTH.
UPLOAD_ENDPOINTS = frozenset({"documents.create", "documents.edit"})


def file_changes(old: Revision, new: Revision) -> tuple[list[Attachment], list[Attachment]]:
    """Files `new` has that `old` had not, and files `old` had that `new` has not."""
    return (
        [a for a in new.attachments if a not in old.attachments],
        [a for a in old.attachments if a not in new.attachments],
    )


def file_kind_label(attachment: Attachment) -> str:
    """The kind of file as people call it: "PDF"."""
    kind = BY_MEDIA_TYPE.get(attachment.media_type)
    return kind.name if kind else attachment.media_type


def _allow_uploads(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # A URL value preprocessor, because those run before every before_request function,
    # and CSRF protection (one of those) reads the body: the limit must be raised first.
    # Only multipart bodies carry files; the text fields keep the usual limit.
    if endpoint in UPLOAD_ENDPOINTS and request.mimetype == "multipart/form-data":
        usual = current_app.config["MAX_CONTENT_LENGTH"]
        request.max_content_length = usual + max_upload_bytes()
        request.max_form_memory_size = usual


def _too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    if request.endpoint in UPLOAD_ENDPOINTS and request.mimetype == "multipart/form-data":
        return render_error(
            413,
            _(
                "What you sent is larger than the portal accepts: files may be at most "
                "%(limit)s in all. Nothing was saved.",
                limit=upload_limit_label(),
            ),
        )
    return render_error(413)


def init_app(app: Flask) -> None:
    """Register the download routes, the upload limit and the template helper."""
    from portal.attachments.views import bp

    app.register_blueprint(bp)
    app.url_value_preprocessor(_allow_uploads)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.add_template_global(file_changes)
    app.add_template_global(file_kind_label)
