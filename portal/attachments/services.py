"""Attaching, replacing and removing files: each change is a revision of the document.

Like every document change: permission (EDIT on the document), the change, a revision
that records which files it has, audit events and a search-change row, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from portal.access import Action, authorize
from portal.attachments.storage import FileTooLarge, StagedFile
from portal.audit import record_event
from portal.documents.services import EditConflict, InvalidDocument, _add_revision
from portal.extensions import db
from portal.models import Attachment, Document, Revision
from portal.search.changes import log_search_change

#: Files one revision of a document may have.
MAX_FILES_PER_DOCUMENT = 30
_SUMMARY_LENGTH = 300


class FileRefused(InvalidDocument):
    """An upload the portal does not accept; shown on the form's file field.

    `status` is the HTTP status the page answers with (413 for a file too large).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message, "files")
        self.status = status


def refused(error: Exception, filename: str) -> FileRefused:
    """The form error for a staging refusal (UnsupportedFile or FileTooLarge) of `filename`."""
    status = 413 if isinstance(error, FileTooLarge) else 400
    return FileRefused(f"“{filename}” was not attached. {error}", status)


@dataclass
class FileChanges:
    """What an edit does to the current revision's files."""

    add: list[StagedFile] = field(default_factory=list)
    remove: list[Attachment] = field(default_factory=list)
    replace: list[tuple[Attachment, StagedFile]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.remove or self.replace)

    def summary(self) -> str:
        """What changed, in words: 'Attached a.pdf; removed b.csv'."""
        parts = []
        if self.add:
            parts.append("attached " + ", ".join(staged.filename for staged in self.add))
        if self.replace:
            parts.append(
                "replaced "
                + ", ".join(f"{old.filename} with {new.filename}" for old, new in self.replace)
            )
        if self.remove:
            parts.append("removed " + ", ".join(old.filename for old in self.remove))
        text = "; ".join(parts)
        return text[:1].upper() + text[1:]


def change_files(
    user: Any,
    document: Document,
    changes: FileChanges,
    *,
    revision: Revision | None = None,
    summary: str = "",
) -> Revision | None:
    """Apply `changes` to the document's files as one revision and return it.

    `revision` is a revision this same save already made (an edit of the text): the file
    changes join it instead of making a second one. `summary` is the author's own words,
    put before the list of changes. Nothing happens without changes.
    """
    if not changes:
        return revision
    authorize(user, Action.EDIT, document)
    base = revision or document.current_revision
    assert base is not None
    files = list(base.attachments)
    leaving = changes.remove + [old for old, _ in changes.replace]
    if any(old not in files for old in leaving):
        raise FileRefused(_("That file is not attached to the current version of the document."))
    added = changes.add + [new for _, new in changes.replace]
    if len(files) - len(leaving) + len(added) > MAX_FILES_PER_DOCUMENT:
        raise FileRefused(_(
            "A document may have at most %(MAX_FILES_PER_DOCUMENT)s files.",
            MAX_FILES_PER_DOCUMENT=MAX_FILES_PER_DOCUMENT,
        ))
    said = changes.summary()
    if revision is None:
        revision = _add_revision(document, user, base.title, base.source, summary)
    # After the author's words (or the text edit's summary) the list reads as one sentence.
    revision.summary = (
        f"{revision.summary}; {said[:1].lower()}{said[1:]}" if revision.summary else said
    )
    revision.summary = revision.summary[:_SUMMARY_LENGTH]
    new_rows = {id(staged): _attachment(user, document, staged) for staged in added}
    revision.attachments = [a for a in files if a not in leaving] + list(new_rows.values())
    document_id = document.id
    try:
        db.session.flush()
    except StaleDataError as error:
        # Someone saved the document in between (as in update_document): theirs wins.
        db.session.rollback()
        raise EditConflict(db.session.get(Document, document_id)) from error
    _record(user, document, revision, changes, new_rows)
    log_search_change(document.id)
    return revision


def _attachment(user: Any, document: Document, staged: StagedFile) -> Attachment:
    attachment = Attachment(
        document=document,
        storage_name=staged.storage_name,
        filename=staged.filename,
        media_type=staged.kind.media_type,
        size=staged.size,
        sha256=staged.sha256,
        text=staged.text.text,
        text_note=staged.text.note,
        uploaded_by_id=getattr(user, "id", None),
    )
    db.session.add(attachment)
    return attachment


def _record(
    user: Any,
    document: Document,
    revision: Revision,
    changes: FileChanges,
    new_rows: dict[int, Attachment],
) -> None:
    """One audit event per file changed, on the document (so its state's trail shows it)."""

    def facts(attachment: Attachment) -> dict[str, Any]:
        return {
            "attachment": attachment.id,
            "filename": attachment.filename,
            "sha256": attachment.sha256,
            "size": attachment.size,
            "media_type": attachment.media_type,
        }

    for staged in changes.add:
        row = new_rows[id(staged)]
        record_event(user, "document.attach", document, revision=revision.number, **facts(row))
    for old, staged in changes.replace:
        row = new_rows[id(staged)]
        record_event(
            user,
            "document.replace_file",
            document,
            revision=revision.number,
            replaced=facts(old),
            **facts(row),
        )
    for old in changes.remove:
        record_event(user, "document.detach", document, revision=revision.number, **facts(old))


def find_file(revision: Revision, attachment_id: int) -> Attachment | None:
    """The revision's file with this id, or None if that revision does not have it."""
    return next((a for a in revision.attachments if a.id == attachment_id), None)
