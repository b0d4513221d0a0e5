"""Backup and restore: every row of every table and the uploaded files survive a round trip."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from portal.access import CONTENT_LOADER
from portal.auth.services import create_user
from portal.backup import encode_row, tables
from portal.comments.services import add_comment, flag_comment
from portal.content import load_content
from portal.documents.services import DocumentFields, create_document, withdraw_document
from portal.extensions import db
from portal.models import Document, DocumentStatus, DocumentType, Role, Visibility
from tests.conftest import (
    CONTENT_DIR,
    PASSWORD,
    close_app,
    commitments,
    edit_document,
    enrol_two_factor,
    migrated_app,
    reset_postgres_schema,
    sign_in,
    state,
)

SCHEMA = "backup_restore"
UPLOAD = ("ab/3f9c-uploaded-note.pdf", b"%PDF-1.4 an uploaded attachment\n")


def postgres_urls() -> tuple[str, str] | None:
    """The suite's PostgreSQL database and a second, empty one (another schema by default)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return None
    second = os.environ.get("TEST_SECOND_DATABASE_URL")
    if second:
        reset_postgres_schema(second)
        return url, second
    reset_postgres_schema(url, SCHEMA)
    separator = "&" if "?" in url else "?"
    return url, f"{url}{separator}options=-csearch_path%3D{SCHEMA}"


@pytest.fixture
def new_app(tmp_path: Path) -> Iterator:
    """make(kind): an app on a new, migrated database ('sqlite' or 'postgresql')."""
    made: list[Flask] = []

    def make(kind: str, **config: object) -> Flask:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'db-{len(made)}.sqlite3'}"
        else:
            urls = postgres_urls()
            if urls is None:
                pytest.skip("needs PostgreSQL: TEST_DATABASE_URL is not a PostgreSQL URL")
            url = urls[1]
        app = migrated_app(url, tmp_path / f"portal-{len(made)}", **config)
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)


def populate(app: Flask) -> None:
    """Content, accounts of every role, edits, a withdrawal, comments, a session, a file."""
    load_content(CONTENT_DIR)
    users = {
        role: create_user(
            f"{role.value}@example.org",
            name=f"{role.label} user",
            role=role,
            password=PASSWORD,
            state=state("FR") if role is Role.GOVERNMENT else None,
            actor=CONTENT_LOADER,
        )
        for role in Role
    }
    db.session.commit()
    enrol_two_factor(users[Role.GOVERNMENT])
    enrol_two_factor(users[Role.SECRETARIAT])
    note = create_document(
        users[Role.GOVERNMENT],
        DocumentType.IMPLEMENTATION_NOTE,
        DocumentFields(
            title="Licensing criteria of France",
            source="Criteria **café** ünïcödé, with a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |",
            visibility=Visibility.GOVERNMENT,
            status=DocumentStatus.PUBLISHED,
            state=state("FR"),
            commitments=commitments(1, 4),
        ),
    )
    db.session.commit()
    edit_document(note, source="Criteria, second revision.")
    comment = add_comment(users[Role.SECRETARIAT], note, "Thank you, very useful.")
    add_comment(users[Role.GOVERNMENT], note, "A reply.", parent=comment)
    flag_comment(users[Role.GOVERNMENT], comment, "test flag")
    published = select(Document).where(Document.status == DocumentStatus.PUBLISHED)
    first = db.session.scalars(published.order_by(Document.id)).first()
    withdraw_document(CONTENT_LOADER, first, "outdated")
    db.session.commit()
    assert sign_in(app.test_client(), users[Role.INDUSTRY].email).status_code == 302
    upload = Path(app.config["FILES_DIR"]) / UPLOAD[0]
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_bytes(UPLOAD[1])


def table_rows(app: Flask) -> dict[str, list[dict]]:
    """Every row of every table, as the backup encodes them (portable, comparable)."""
    with app.app_context(), db.engine.connect() as connection:
        return {
            table.name: [
                encode_row(table, row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in tables()
        }


def cli(app: Flask, *args: str):
    """Run a `flask` command against `app` (whichever app the test is inside)."""
    with app.app_context():  # commands reuse an app context already pushed
        return app.test_cli_runner().invoke(args=list(args))


def backup(app: Flask, path: Path) -> None:
    """`flask backup create PATH`, checked."""
    result = cli(app, "backup", "create", str(path))
    assert result.exit_code == 0, result.output
    assert "AUDIT_KEY" in result.output


def restore(app: Flask, path: Path, *extra: str):
    """`flask backup restore PATH`: the CLI result."""
    return cli(app, "backup", "restore", str(path), *extra)


@pytest.mark.parametrize(
    ("source", "target"),
    [("suite", "sqlite"), ("suite", "postgresql"), ("sqlite", "postgresql")],
    ids=["suite-db-to-sqlite", "suite-db-to-postgresql", "sqlite-to-postgresql"],
)
def test_round_trip_reproduces_every_row_of_every_table_and_the_files(
    source, target, request, new_app, tmp_path
):
    if target == "postgresql" and postgres_urls() is None:
        pytest.skip("needs PostgreSQL: TEST_DATABASE_URL is not a PostgreSQL URL")
    if source == "suite":
        origin = request.getfixturevalue("app")
        origin.config["FILES_DIR"] = str(tmp_path / "origin-files")
        populate(origin)
    else:
        origin = new_app("sqlite")
        with origin.app_context():
            populate(origin)
    archive = tmp_path / "portal.tar.gz"
    backup(origin, archive)

    restored = new_app(target)
    result = restore(restored, archive)
    assert result.exit_code == 0, result.output
    assert "Audit trail intact" in result.output
    before, after = table_rows(origin), table_rows(restored)
    for name in ("documents", "revisions", "users", "audit_events", "audit_chain_head",
                 "plenaries", "comments", "comment_flags", "user_sessions"):  # fmt: skip
        assert before[name], f"the test data should fill {name}"
    assert before == after
    copy = Path(restored.config["FILES_DIR"]) / UPLOAD[0]
    assert copy.read_bytes() == UPLOAD[1]
    verify = cli(restored, "audit", "verify")
    assert verify.exit_code == 0 and "intact" in verify.output
    status = cli(restored, "search", "status").output
    documents = len(before["documents"])
    assert f"Documents in the index:    {documents}" in status
    assert "Changes not yet applied:   0" in status
    # Ids continue after the restored ones (sequences reset on PostgreSQL).
    with restored.app_context():
        fields = DocumentFields("After the restore", "Text.", Visibility.PUBLIC)
        create_document(CONTENT_LOADER, DocumentType.PAGE, fields)
        db.session.commit()


def test_backup_taken_while_documents_are_published_is_one_consistent_snapshot(
    app, new_app, tmp_path, monkeypatch
):
    from portal import backup as backup_module

    stop, published = threading.Event(), []

    def publish() -> None:
        with app.app_context():
            while not stop.is_set():
                fields = DocumentFields(
                    f"Published during the backup {len(published)}",
                    "Text.",
                    Visibility.PUBLIC,
                    DocumentStatus.PUBLISHED,
                )
                published.append(create_document(CONTENT_LOADER, DocumentType.PAGE, fields).id)
                db.session.commit()
                time.sleep(0.01)

    original = backup_module._dump_table

    def slow_dump(*args, **kwargs):
        time.sleep(0.05)  # let the publisher commit between tables
        return original(*args, **kwargs)

    monkeypatch.setattr(backup_module, "_dump_table", slow_dump)
    writer = threading.Thread(target=publish)
    writer.start()
    try:
        time.sleep(0.1)
        archive = tmp_path / "live.tar.gz"
        backup(app, archive)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert len(published) > 5
    restored = new_app("sqlite")
    result = restore(restored, archive)
    # Head, events, documents and revisions all from one moment, or the chain would not verify.
    assert result.exit_code == 0 and "Audit trail intact" in result.output, result.output
    rows = table_rows(restored)
    assert len(rows["documents"]) == len(rows["revisions"]) == len(rows["search_changes"])


def test_restore_refuses_a_non_empty_database_a_damaged_archive_another_revision_or_key(
    new_app, tmp_path
):
    origin = new_app("sqlite")
    with origin.app_context():
        populate(origin)
    archive = tmp_path / "portal.tar.gz"
    backup(origin, archive)

    refused = restore(origin, archive)
    assert refused.exit_code != 0 and "not empty" in refused.output

    target = new_app("sqlite")
    damaged = rewrite(archive, tmp_path / "damaged.tar.gz", "tables/documents.jsonl", b"{}\n")
    refused = restore(target, damaged)
    assert refused.exit_code != 0 and "damaged" in refused.output
    assert not table_rows(target)["documents"]  # nothing half-restored

    manifest = json.loads(read_member(archive, "manifest.json"))
    manifest["revision"] = "0001"
    older = json.dumps(manifest).encode()
    other = rewrite(archive, tmp_path / "old.tar.gz", "manifest.json", older)
    refused = restore(target, other)
    assert refused.exit_code != 0 and "revision 0001" in refused.output

    keyed = new_app("sqlite", AUDIT_KEY="another key")
    refused = restore(keyed, archive)
    assert refused.exit_code != 0 and "AUDIT_KEY" in refused.output
    assert restore(target, archive).exit_code == 0  # the right key, an empty database


def read_member(archive: Path, name: str) -> bytes:
    """One member's bytes."""
    with tarfile.open(archive, "r:gz") as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


def rewrite(archive: Path, copy: Path, name: str, data: bytes) -> Path:
    """A copy of `archive` with member `name` replaced by `data` (the manifest left alone)."""
    with tarfile.open(archive, "r:gz") as source, tarfile.open(copy, "w:gz") as target:
        for member in source.getmembers():
            content = data if member.name == name else source.extractfile(member).read()
            member.size = len(content)
            target.addfile(member, io.BytesIO(content))
    return copy
