"""Between the document form and the attachment services: the files a save sends."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.datastructures import FileStorage
from wtforms import SelectChoice

from portal.attachments.kinds import UnsupportedFile
from portal.attachments.services import FileChanges, refused
from portal.attachments.storage import FileTooLarge, StagedFile, stage
from portal.models import Document

REPLACE_PREFIX = "replace-"


def prepare_file_fields(form: Any, document: Document | None) -> None:
    """Offer the current revision's files for removal."""
    revision = document.current_revision if document is not None else None
    form.remove_files.choices = (
        [SelectChoice(a.id, f"Remove {a.filename}") for a in revision.attachments]
        if revision is not None
        else []
    )


def staged_changes(form: Any, document: Document | None) -> FileChanges:
    """Store and check every file the form sends; FileRefused (a form error) if one is refused.

    Stored files are deleted again unless the save commits.
    """
    current = {a.id: a for a in document.current_revision.attachments} if document else {}
    removing = set(form.remove_files.data or [])
    changes = FileChanges(remove=[current[i] for i in sorted(removing) if i in current])
    for upload in form.files.data or []:
        if _sent(upload):
            changes.add.append(_stage(upload))
    for attachment_id, attachment in current.items():
        upload = request.files.get(f"{REPLACE_PREFIX}{attachment_id}")
        if _sent(upload) and attachment_id not in removing:
            changes.replace.append((attachment, _stage(upload)))
    return changes


def _sent(upload: Any) -> bool:
    return isinstance(upload, FileStorage) and bool(upload.filename)


def _stage(upload: FileStorage) -> StagedFile:
    try:
        return stage(upload.stream, upload.filename or "file")
    except (UnsupportedFile, FileTooLarge) as error:
        raise refused(error, upload.filename or "file") from error
