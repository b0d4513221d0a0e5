"""Files on disk under FILES_DIR: written atomically, named at random, never served directly.

An upload is copied to a temporary file in FILES_DIR, checked (size, kind), its text read,
flushed to disk and only then renamed to its random storage name. A failure at any step
removes the temporary file. A stored file stays only if the database transaction that
records it commits: rolling back (or closing the session without a commit) deletes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from portal.attachments.extraction import ExtractedText, extract_text
from portal.attachments.kinds import FileKind, sniff
from portal.extensions import db

log = logging.getLogger("portal.attachments")
CHUNK_BYTES = 1024 * 1024
MAX_NAME_LENGTH = 120
_STAGED = "staged_files"
_STORAGE_NAME = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*;]+')


class FileTooLarge(ValueError):
    """A file over MAX_UPLOAD_MB."""


@dataclass(frozen=True)
class StagedFile:
    """A file written to storage and checked, waiting for its database row."""

    storage_name: str
    filename: str
    kind: FileKind
    size: int
    sha256: str
    text: ExtractedText


def files_dir() -> Path:
    """FILES_DIR, created (owner-only) if missing."""
    directory = Path(current_app.config["FILES_DIR"])
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


def max_upload_bytes() -> int:
    """The largest file accepted, in bytes (MAX_UPLOAD_MB)."""
    return int(float(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024)


def upload_limit_label() -> str:
    """MAX_UPLOAD_MB as people read it: "25 MB"."""
    return f"{float(current_app.config['MAX_UPLOAD_MB']):g} MB"


def stored_path(storage_name: str) -> Path:
    """Where a stored file lives; ValueError for a name storage never gives."""
    if not _STORAGE_NAME.match(storage_name):
        raise ValueError(f"not a storage name: {storage_name!r}")
    return files_dir() / storage_name


def display_name(raw: str, kind: FileKind) -> str:
    """A safe name to show and to download as: no path, no control or shell characters,
    at most MAX_NAME_LENGTH characters, and an extension that matches the content."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE_NAME.sub("_", name)
    name = " ".join(name.split()).strip(" ._") or "file"
    stem, dot, extension = name.rpartition(".")
    if not dot or f".{extension.lower()}" not in kind.extensions:
        stem, extension = name, kind.extensions[0].lstrip(".")
    return f"{stem[: MAX_NAME_LENGTH - len(extension) - 1]}.{extension.lower()}"


def stage(stream: BinaryIO, filename: str) -> StagedFile:
    """Copy `stream` into storage and check it; FileTooLarge or UnsupportedFile if refused.

    The file is deleted again unless the current database transaction commits.
    """
    directory = files_dir()
    limit = max_upload_bytes()
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
    temp_path = Path(temporary)
    try:
        with os.fdopen(descriptor, "wb") as target:
            size, digest = _copy(stream, target, limit)
            target.flush()
            os.fsync(target.fileno())
        kind = sniff(temp_path)
        text = extract_text(temp_path, kind, float(current_app.config["TEXT_EXTRACTION_SECONDS"]))
        storage_name = secrets.token_hex(16)
        os.replace(temp_path, directory / storage_name)
        _fsync_directory(directory)
    except BaseException:
        # Whatever stopped us (a refusal, a broken stream, a full disk, a signal).
        temp_path.unlink(missing_ok=True)
        raise
    _delete_unless_committed(directory / storage_name)
    return StagedFile(storage_name, display_name(filename, kind), kind, size, digest, text)


def _copy(source: BinaryIO, target: BinaryIO, limit: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise FileTooLarge(_("Files may be at most %(value)s.", value=upload_limit_label()))
        digest.update(chunk)
        target.write(chunk)
    return size, digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _delete_unless_committed(path: Path) -> None:
    session = db.session()
    session.connection()  # make sure a transaction is open: its end decides the file's fate
    session.info.setdefault(_STAGED, []).append(path)


@event.listens_for(FlaskSession, "after_commit")
def _keep_committed_files(session: Session) -> None:
    session.info.pop(_STAGED, None)


@event.listens_for(FlaskSession, "after_transaction_end")
def _delete_uncommitted_files(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint; the outer transaction decides
    for path in session.info.pop(_STAGED, []):
        log.info("removing %s: its transaction did not commit", path.name)
        path.unlink(missing_ok=True)
