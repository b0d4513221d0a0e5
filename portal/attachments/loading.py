"""Files listed in content/ front matter (`attachments: [guidance.pdf]`), loaded idempotently."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from portal.attachments.kinds import BY_MEDIA_TYPE, UnsupportedFile
from portal.attachments.services import FileChanges
from portal.attachments.storage import CHUNK_BYTES, FileTooLarge, display_name, stage
from portal.models import Attachment, Document


@dataclass(frozen=True)
class ContentFile:
    """A file beside a content Markdown file, with its checksum."""

    path: Path
    sha256: str


def content_files(paths: list[Path]) -> list[ContentFile]:
    """The listed files with their SHA-256 checksums."""
    found = []
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
        found.append(ContentFile(path, digest.hexdigest()))
    return found


def files_checksum(text_checksum: str, files: list[ContentFile]) -> str:
    """One checksum for a content file and the files it lists (just the text's without any)."""
    if not files:
        return text_checksum
    listed = "".join(f"\n{f.path.name}:{f.sha256}" for f in files)
    return hashlib.sha256(f"{text_checksum}{listed}".encode()).hexdigest()


def content_file_changes(document: Document | None, files: list[ContentFile]) -> FileChanges:
    """What makes the document's files those listed: unchanged files (same name and
    checksum) stay, a changed file with the same name is replaced, the rest are added or
    removed. New files are stored (and deleted again unless the load commits).

    Raises UnsupportedFile or FileTooLarge for a file the portal does not accept.
    """
    revision = document.current_revision if document is not None else None
    current = list(revision.attachments) if revision is not None else []
    staying = {id(a) for a in current if any(_same(a, f) for f in files)}
    changes = FileChanges()
    for file in files:
        if any(_same(a, file) for a in current):
            continue
        try:
            with file.path.open("rb") as handle:
                staged = stage(handle, file.path.name)
        except (UnsupportedFile, FileTooLarge) as error:
            raise type(error)(f"{file.path.name}: {error}") from error
        old = next(
            (a for a in current if id(a) not in staying and a.filename == staged.filename), None
        )
        if old is None:
            changes.add.append(staged)
        else:
            changes.replace.append((old, staged))
            staying.add(id(old))  # it leaves by being replaced
    changes.remove = [a for a in current if id(a) not in staying]
    return changes


def _same(attachment: Attachment, file: ContentFile) -> bool:
    """The same content under the name loading the file would give it."""
    kind = BY_MEDIA_TYPE.get(attachment.media_type)
    return (
        kind is not None
        and attachment.sha256 == file.sha256
        and attachment.filename == display_name(file.path.name, kind)
    )
