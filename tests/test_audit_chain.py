"""The audit trail's hash chain: it verifies after normal use and names the first broken event."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import select, text

from portal import create_app
from portal.access import CONTENT_LOADER
from portal.audit import event_hash, head_seal, record_event, verify_chain
from portal.extensions import db
from portal.models import AuditChainHead, AuditEvent, Document, State, User
from tests.conftest import PASSWORD, csrf_token, edit_document


def some_history(
    make_user: Callable[..., User], make_document: Callable[..., Document]
) -> list[AuditEvent]:
    make_user("industry")
    make_user("government", "DE")
    note = make_document(title="A note with history", source="First text.")
    edit_document(note, source="Second text.")
    edit_document(note, visibility="participants")
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.sequence)))


def run_verify(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_normal_history_verifies(
    app: Flask, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    events = some_history(make_user, make_document)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(events))
    code, output = run_verify(app)
    assert code == 0, output
    assert f"intact: {len(events)} events" in output


def test_document_events_carry_the_hash_of_the_new_text(
    app: Flask, make_document: Callable[..., Document]
) -> None:
    make_document(source="Exactly this text.")
    created = select(AuditEvent).where(AuditEvent.action == "document.create")
    event = db.session.scalars(created).one()
    assert event.content_hash == hashlib.sha256(b"Exactly this text.").hexdigest()


def test_events_record_the_client_address(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    user = login_as("industry")
    new = "another long passphrase"
    client.post(
        "/auth/password",
        data={
            "current": PASSWORD,
            "new": new,
            "confirm": new,
            "csrf_token": csrf_token(client, "/auth/password"),
        },
    )
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.password_change")
    ).one()
    assert event.actor_id == user.id and event.ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor_label", "'someone.else@example.org'"), ("action", "'document.read'"),
     ("object_id", "999"), ("details", "'{}'"), ("ip_address", "'10.0.0.1'")],
)  # fmt: skip
def test_an_edited_row_is_named(
    app: Flask,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
    column: str,
    value: str,
) -> None:
    events = some_history(make_user, make_document)
    target = events[2]
    db.session.execute(text(f"UPDATE audit_events SET {column} = {value} WHERE id = {target.id}"))
    db.session.commit()
    code, output = run_verify(app)
    assert code == 1
    assert f"event #{target.sequence} (id {target.id}" in output
    assert "changed after it was recorded" in output


def test_a_deleted_row_is_found(
    app: Flask, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    events = some_history(make_user, make_document)
    deleted, after = events[1].sequence, (events[2].sequence, events[2].id)
    db.session.execute(text(f"DELETE FROM audit_events WHERE id = {events[1].id}"))
    db.session.commit()
    code, output = run_verify(app)
    assert code == 1
    assert f"event #{after[0]} (id {after[1]}" in output
    assert f"event #{deleted} is missing" in output


def test_a_rewritten_chain_is_found_by_its_links(
    app: Flask, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    """Re-hashing an edited row is not enough: the next event still points at the old hash."""
    events = some_history(make_user, make_document)
    target = events[1]
    target.actor_label = "forger@example.org"
    target.hash = event_hash(target)
    db.session.commit()
    report = verify_chain(db.session)
    assert not report.intact and report.broken_event_id == events[2].id


def test_deleting_the_newest_events_is_found(
    app: Flask, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    events = some_history(make_user, make_document)
    newest = events[-1].sequence
    db.session.execute(text(f"DELETE FROM audit_events WHERE id = {events[-1].id}"))
    db.session.commit()
    code, output = run_verify(app)
    assert code == 1
    assert f"first missing: event #{newest}" in output


def test_migration_chains_events_recorded_before_it(tmp_path: Path) -> None:
    """Events written before the chain existed get sequence, links and hashes on upgrade."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_INDEX_DIR": str(tmp_path / "ix")})
    with app.app_context():
        upgrade(revision="0002")
        for number in range(3):
            db.session.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, actor_label, action, object_type,"
                    " object_id, details) VALUES (:at, 'cli', 'user.create', 'User', :id, :d)"
                ),
                {"at": f"2026-01-0{number + 1} 10:00:00", "id": number, "d": '{"n": 1}'},
            )
        db.session.commit()
        upgrade()
        report = verify_chain(db.session)
        assert report.intact and report.events == 3
        app.extensions["search"].close()
        db.session.remove()
        db.engine.dispose()


def test_several_events_in_one_transaction_chain_in_order(app: Flask) -> None:
    france = db.session.scalars(select(State).where(State.code == "FR")).one()
    for number in range(3):
        record_event(CONTENT_LOADER, "state.touch", france, n=number)
    db.session.commit()
    report = verify_chain(db.session)
    assert report.intact and report.events == 3


def test_hiding_deleted_newest_events_by_moving_the_head_back_is_found(
    app: Flask, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    """Delete the newest event and point the head at the one before: the seal no longer fits."""
    events = some_history(make_user, make_document)
    newest, previous = events[-1], events[-2]
    db.session.execute(text(f"DELETE FROM audit_events WHERE id = {newest.id}"))
    db.session.execute(
        text("UPDATE audit_chain_head SET length = :n, last_hash = :h"),
        {"n": previous.sequence, "h": previous.hash},
    )
    db.session.commit()
    assert not verify_chain(db.session).intact


def test_rehashing_without_the_key_is_found(
    app: Flask, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    """Someone with the database but not AUDIT_KEY edits the newest event and re-hashes it
    (and the head) with another key: verification with the real key fails."""
    events = some_history(make_user, make_document)
    newest = events[-1]
    real_key = app.config["AUDIT_KEY"]
    app.config["AUDIT_KEY"] = "a guess"
    newest.actor_label = "forger@example.org"
    newest.hash = event_hash(newest)
    head = db.session.get(AuditChainHead, 1)
    head.last_hash, head.seal = newest.hash, head_seal(head.length, newest.hash)
    db.session.commit()
    app.config["AUDIT_KEY"] = real_key
    report = verify_chain(db.session)
    assert not report.intact and report.broken_event_id == newest.id
