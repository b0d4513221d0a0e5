"""Restoring an archive into an empty, migrated database (see portal/backup/__init__.py)."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Integer, Table, bindparam, func, select, text

from portal.audit import head_seal
from portal.backup import (
    BATCH,
    FORMAT,
    SEEDED_BY_MIGRATIONS,
    BackupError,
    HashingWriter,
    Progress,
    RestoreReport,
    decoder,
    file_digest,
    files_dir_setting,
    quiet,
    schema_revision,
    tables,
)
from portal.extensions import db


def read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    """The archive's manifest, if it is an archive this version can restore."""
    try:
        handle = archive.extractfile("manifest.json")
    except KeyError:
        handle = None
    if handle is None:
        raise BackupError("This is not a portal backup: it has no manifest.json.")
    manifest = json.load(handle)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r} (expected {FORMAT}).")
    return manifest


def _member_rows(archive: tarfile.TarFile, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A table member's rows; raises once read if they do not match the manifest."""
    handle = archive.extractfile(entry["member"])
    if handle is None:
        raise BackupError(f"The archive lacks {entry['member']}, which its manifest lists.")
    digest, count = hashlib.sha256(), 0
    for line in handle:
        digest.update(line)
        count += 1
        yield json.loads(line)
    if digest.hexdigest() != entry["sha256"] or count != entry["rows"]:
        raise BackupError(f"{entry['member']} does not match the manifest: the archive is damaged.")


def _check_target(connection: Connection, manifest: dict[str, Any], known: set[str]) -> None:
    revision = schema_revision(connection)
    if revision is None:
        raise BackupError("This database has no schema: run `flask db upgrade`, then restore.")
    if revision != manifest["revision"]:
        raise BackupError(
            f"The archive is of schema revision {manifest['revision']}, this database is at "
            f"{revision}: restore into a database migrated to {manifest['revision']}, with the "
            "portal version that made the archive."
        )
    unknown = sorted(set(manifest["tables"]) - known)
    if unknown:
        raise BackupError(f"The archive holds tables this version does not know: {unknown}.")
    filled = [
        table.name
        for table in tables()
        if table.name not in SEEDED_BY_MIGRATIONS
        and connection.scalar(select(func.count()).select_from(table))
    ]
    if filled:
        raise BackupError(
            f"This database is not empty (rows in {', '.join(filled[:5])}): restore only into "
            "a new database, migrated with `flask db upgrade`."
        )


def _check_audit_key(archive: tarfile.TarFile, manifest: dict[str, Any]) -> None:
    """Refuse early if this portal's AUDIT_KEY did not seal the archive's audit trail."""
    entry = manifest["tables"].get("audit_chain_head")
    for head in _member_rows(archive, entry) if entry else []:
        if head["seal"] is not None and head["seal"] != head_seal(
            head["length"], head["last_hash"]
        ):
            raise BackupError(
                "This portal's AUDIT_KEY (by default its SECRET_KEY) is not the key the archive's "
                "audit trail was sealed with, so `flask audit verify` would fail. Set AUDIT_KEY "
                "to the original portal's key and restore again (or pass --ignore-audit-key)."
            )


def _check_files(manifest: dict[str, Any], files_dir: Path | None) -> None:
    if not manifest["files"]:
        return
    if files_dir is None:
        raise BackupError("The archive holds uploaded files, but FILES_DIR is not set.")
    for name, entry in manifest["files"].items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise BackupError(f"The archive names a file outside FILES_DIR: {name!r}.")
        target = files_dir / relative
        if target.exists() and file_digest(target) != entry["sha256"]:
            raise BackupError(f"{target} already exists with other contents: restore into an "
                              "empty FILES_DIR.")  # fmt: skip


def _deferred_columns(table: Table, position: dict[str, int]) -> list[Column[Any]]:
    """Nullable foreign keys to this table or a later one: set once every row is in."""
    return [
        column
        for column in table.columns
        if column.nullable
        and any(position.get(key.column.table.name, -1) >= position[table.name]
                for key in column.foreign_keys)
    ]  # fmt: skip


def _load_table(
    connection: Connection, table: Table, rows: Iterable[dict[str, Any]], deferred: list[Column]
) -> list[dict[str, Any]]:
    """Insert the rows, deferred columns left empty; returns the updates that fill them."""
    decoders = {column.name: decoder(column) for column in table.columns}
    keys = [column.name for column in table.primary_key.columns]
    kept = [c.name for c in table.columns if c.onupdate is not None and c not in deferred]
    later, batch = [], []
    for row in rows:
        values = {name: None if v is None else decoders[name](v) for name, v in row.items()}
        if any(values.get(column.name) is not None for column in deferred):
            update = {f"k_{name}": values[name] for name in keys}
            for column in deferred:
                update[f"v_{column.name}"], values[column.name] = values.get(column.name), None
            later.append(update | {f"v_{name}": values[name] for name in kept})
        batch.append(values)
        if len(batch) >= BATCH:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
    return later


def _apply_deferred(
    connection: Connection, table: Table, deferred: list[Column], updates: list[dict[str, Any]]
) -> None:
    if not updates:
        return
    # Columns updated automatically (updated_at) are set to their restored values too.
    columns = [c.name for c in deferred] + [
        c.name for c in table.columns if c.onupdate is not None and c not in deferred
    ]
    statement = (
        table.update()
        .where(*[column == bindparam(f"k_{column.name}") for column in table.primary_key.columns])
        .values({name: bindparam(f"v_{name}") for name in columns})
    )
    connection.execute(statement, updates)


def _reset_sequences(connection: Connection, restored: list[Table]) -> None:
    """PostgreSQL: make each id sequence continue after the restored ids."""
    if connection.dialect.name != "postgresql":
        return  # SQLite takes the next id from the largest one present
    quote = connection.dialect.identifier_preparer
    for table in restored:
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer):
            continue
        name, column = quote.format_table(table), quote.quote(key[0].name)
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"COALESCE(MAX({column}), 0) + 1, false) FROM {name}"
            ),
            {"table": name, "column": key[0].name},
        )


def _restore_files(
    archive: tarfile.TarFile, manifest: dict[str, Any], files_dir: Path, progress: Progress
) -> None:
    names = list(manifest["files"])
    for name in progress(names, len(names), "Files"):
        target = files_dir / name
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        source = archive.extractfile(f"files/{name}")
        if source is None:
            raise BackupError(f"The archive lacks files/{name}, which its manifest lists.")
        partial = target.with_name(f".{target.name}.restoring")
        with open(partial, "wb") as handle:
            writer = HashingWriter(handle)
            while chunk := source.read(1 << 20):
                writer.write(chunk)
        if writer.digest.hexdigest() != manifest["files"][name]["sha256"]:
            partial.unlink()
            raise BackupError(f"files/{name} does not match the manifest: the archive is damaged.")
        os.replace(partial, target)


def restore_backup(
    path: Path, progress: Progress = quiet, *, check_audit_key: bool = True
) -> RestoreReport:
    """Restore an archive into this empty, migrated database, then rebuild the search index.

    Everything is loaded in one transaction: a damaged archive leaves the database empty.
    """
    from portal.search import search_index

    files_dir = files_dir_setting()
    with tarfile.open(path, "r:gz") as archive:
        manifest = read_manifest(archive)
        with db.engine.connect() as connection:
            _check_target(connection, manifest, {table.name for table in tables()})
        if check_audit_key:
            _check_audit_key(archive, manifest)
        _check_files(manifest, files_dir)
        position = {table.name: n for n, table in enumerate(tables())}
        restored = [table for table in tables() if table.name in manifest["tables"]]
        with db.engine.begin() as connection:
            for table in restored:
                if table.name in SEEDED_BY_MIGRATIONS:
                    connection.execute(table.delete())
            pending = []
            for table in progress(restored, len(restored), "Tables"):
                deferred = _deferred_columns(table, position)
                rows = _member_rows(archive, manifest["tables"][table.name])
                pending.append((table, deferred, _load_table(connection, table, rows, deferred)))
            for table, deferred, updates in pending:
                _apply_deferred(connection, table, deferred, updates)
            _reset_sequences(connection, restored)
            if manifest["files"]:
                _restore_files(archive, manifest, files_dir, progress)  # type: ignore[arg-type]
    db.session.remove()  # nothing cached from before the restore
    indexed = search_index().rebuild()
    return RestoreReport(
        manifest["revision"],
        {name: entry["rows"] for name, entry in manifest["tables"].items()},
        len(manifest["files"]),
        indexed,
    )
