"""Backup and restore: every table of the data model, the uploaded files and a manifest.

An archive is a .tar.gz holding

    manifest.json           format, schema revision, and rows/bytes/SHA-256 of each member
    tables/<table>.jsonl    one JSON object per row, every column, in primary-key order
    files/<path>            the files under FILES_DIR (uploaded attachments)

Tables come from `Base.metadata`, so a table added by a later migration is included without
a change here. The database is read in one snapshot (REPEATABLE READ on PostgreSQL, one read
transaction on SQLite) while the site keeps running. Values are written portably (UTC
timestamps, base64 bytes), so an archive made on SQLite restores into PostgreSQL and back.
Restoring lives in restore.py, the `flask backup` commands in cli.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import io
import json
import os
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from flask import current_app
from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    LargeBinary,
    Numeric,
    Table,
    Time,
    Uuid,
    inspect,
    select,
    text,
)

from portal.extensions import db
from portal.models import Base

FORMAT = "echri-portal-backup/1"
BATCH = 1000
#: Tables whose rows the migrations create (the audit chain's genesis head): a restore
#: replaces them, and they do not make a database count as non-empty.
SEEDED_BY_MIGRATIONS = frozenset({"audit_chain_head"})

T = TypeVar("T")
#: progress(items, length, label) yields the items, showing progress as they pass.
Progress = Callable[[Iterable[T], int, str], Iterable[T]]


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did."""

    revision: str
    rows: dict[str, int]
    files: int
    indexed: int


def quiet(items: Iterable[T], length: int, label: str) -> Iterable[T]:
    """No progress display."""
    return items


# -- values --------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    """A column value as JSON: timestamps in UTC ISO 8601, bytes in base64."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


def encode_row(table: Table, row: Any) -> dict[str, Any]:
    """A row as a JSON-ready mapping; timezone-aware columns read naive (SQLite) are UTC."""
    encoded = {}
    for column in table.columns:
        value = row._mapping[column]
        naive = isinstance(value, dt.datetime) and value.tzinfo is None
        if naive and getattr(column.type, "timezone", False):
            value = value.replace(tzinfo=dt.UTC)
        encoded[column.name] = _encode(value)
    return encoded


def decoder(column: Column[Any]) -> Callable[[Any], Any]:
    """Turns a value written by `_encode` back into what the column takes."""
    kind = column.type
    if isinstance(kind, DateTime):
        return dt.datetime.fromisoformat
    if isinstance(kind, Date):
        return dt.date.fromisoformat
    if isinstance(kind, Time):
        return dt.time.fromisoformat
    if isinstance(kind, LargeBinary):
        return base64.b64decode
    if isinstance(kind, Numeric) and kind.asdecimal:
        return decimal.Decimal
    if isinstance(kind, Uuid) and kind.as_uuid:
        return uuid.UUID
    return lambda value: value


# -- reading the database ------------------------------------------------------------------


def tables() -> list[Table]:
    """Every table of the data model, parents before children."""
    return list(Base.metadata.sorted_tables)


def schema_revision(connection: Connection) -> str | None:
    """The Alembic revision the database is at, or None if it was never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.scalar(text("SELECT version_num FROM alembic_version"))


def _snapshot(connection: Connection) -> None:
    """Make everything read on `connection` from here on one consistent snapshot."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    elif connection.dialect.name == "sqlite":
        # The driver begins transactions only before writes; a read needs an explicit one.
        connection.exec_driver_sql("BEGIN")


def _rows(connection: Connection, table: Table) -> Iterator[Any]:
    query = select(table).order_by(*table.primary_key.columns)
    yield from connection.execution_options(yield_per=BATCH).execute(query)


# -- creating an archive -------------------------------------------------------------------


class HashingWriter:
    """Writes to a file while counting bytes and hashing them."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stored_files(directory: Path | None) -> list[Path]:
    """Files under FILES_DIR, relative to it; not dotfiles (uploads still being written)."""
    if directory is None or not directory.is_dir():
        return []
    return sorted(
        path.relative_to(directory)
        for path in directory.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def files_dir_setting() -> Path | None:
    """FILES_DIR, if configured."""
    configured = current_app.config.get("FILES_DIR")
    return Path(configured) if configured else None


def create_backup(path: Path, progress: Progress = quiet) -> dict[str, Any]:
    """Write an archive of the database and FILES_DIR to `path`; returns its manifest."""
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "database": db.engine.dialect.name,
        "tables": {},
        "files": {},
    }
    with tempfile.TemporaryDirectory(prefix="portal-backup-") as work:
        staging = Path(work)
        (staging / "tables").mkdir()
        with db.engine.connect() as connection, connection.begin():
            _snapshot(connection)
            manifest["revision"] = schema_revision(connection)
            if manifest["revision"] is None:
                raise BackupError("The database has no schema: there is nothing to back up.")
            for table in progress(tables(), len(tables()), "Tables"):
                manifest["tables"][table.name] = _dump_table(connection, table, staging)
        files_dir = files_dir_setting()
        files = stored_files(files_dir)
        for relative in progress(files, len(files), "Files"):
            source = files_dir / relative  # type: ignore[operator]
            manifest["files"][relative.as_posix()] = {
                "bytes": source.stat().st_size,
                "sha256": file_digest(source),
            }
        _write_archive(path, manifest, staging, files_dir)
    return manifest


def _dump_table(connection: Connection, table: Table, staging: Path) -> dict[str, Any]:
    member = f"tables/{table.name}.jsonl"
    count = 0
    with open(staging / member, "wb") as handle:
        writer = HashingWriter(handle)
        for row in _rows(connection, table):
            line = json.dumps(encode_row(table, row), ensure_ascii=False, separators=(",", ":"))
            writer.write(line.encode("utf-8") + b"\n")
            count += 1
    return {
        "member": member,
        "rows": count,
        "bytes": writer.size,
        "sha256": writer.digest.hexdigest(),
    }


def _write_archive(
    path: Path, manifest: dict[str, Any], staging: Path, files_dir: Path | None
) -> None:
    partial = path.with_name(f".{path.name}.partial")
    try:
        with tarfile.open(partial, "w:gz") as archive:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime = len(data), int(dt.datetime.now().timestamp())
            archive.addfile(info, io.BytesIO(data))
            for entry in manifest["tables"].values():
                archive.add(staging / entry["member"], arcname=entry["member"])
            for name in manifest["files"]:
                archive.add(files_dir / name, arcname=f"files/{name}")  # type: ignore[operator]
        os.replace(partial, path)  # never a half-written archive under the real name
    finally:
        partial.unlink(missing_ok=True)
