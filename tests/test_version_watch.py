"""Workers learn the data version from PostgreSQL's notifications (portal/version_watch.py)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import (
    Integer,
    cast,
    create_engine,
    delete,
    func,
    literal,
    select,
    text,
)

from portal import create_app, reader_pages, version_watch
from portal.audit import record_event
from portal.config import load_config
from portal.data_version import _watch, data_version, watch_application_name
from portal.extensions import db
from portal.models import AuditChainHead, Document, Role, User, Visibility
from portal.version_watch import CHANNEL, VersionWatch
from tests.conftest import edit_document, sign_in, statements_on_this_thread

POSTGRESQL_ONLY = "SQLite has no notifications (the version is read)"

WITHIN_SECONDS = 5.0


@pytest.fixture
def listening(
    app: Flask, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[VersionWatch]:
    """The app with DATA_VERSION_LISTEN, its watch live. It reads the version only when it
    connects: what the tests see next comes from notifications."""
    monkeypatch.setattr(version_watch, "HEARTBEAT_SECONDS", 60.0)
    monkeypatch.setattr(version_watch, "LIVE_SECONDS", 120.0)
    monkeypatch.setattr(version_watch, "READER_LIVE_SECONDS", 120.0)
    app.config["DATA_VERSION_LISTEN"] = True
    watch = _watch()
    assert watch is not None
    wait_until(lambda: watch.version() is not None)
    yield watch
    watch.stop()


def wait_until(condition: Callable[[], object], limit: float = WITHIN_SECONDS) -> None:
    """Poll `condition` until it holds, or fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.02)


def test_every_committed_change_is_announced_with_the_new_version(
    app: Flask, postgres_url: str, make_document: Callable[..., Document]
) -> None:
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        document = make_document(title="Announced note")
        # The head's row is made (length 0) by the first change, then lengthened.
        payloads = [n.payload for n in listener.notifies(timeout=1)]
        assert payloads and payloads[-1] == str(data_version()) != "0"
        # A change rolled back is never announced.
        record_event(None, "document.test", document)
        db.session.flush()
        db.session.rollback()
        assert list(listener.notifies(timeout=0.5)) == []


def test_a_visitors_kept_page_needs_no_query_while_the_watch_listens(
    app: Flask,
    client: FlaskClient,
    listening: VersionWatch,
    make_document: Callable[..., Document],
) -> None:
    url = f"/documents/{make_document(title='Quiet note').slug}"
    wait_until(lambda: listening.version() == data_version())
    assert client.get(url).status_code == 200  # rendered and kept
    served: list[bytes] = []
    assert statements_on_this_thread(lambda: served.append(client.get(url).get_data())) == []
    assert b"Quiet note" in served[0]
    # Without the watch (or on SQLite), each kept page reads the version: one statement.
    listening.stop()
    assert len(statements_on_this_thread(lambda: client.get(url))) == 1


def test_a_change_made_elsewhere_reaches_the_visitors_at_once(
    app: Flask,
    client: FlaskClient,
    listening: VersionWatch,
    make_document: Callable[..., Document],
) -> None:
    document = make_document(title="First title")
    url = f"/documents/{document.slug}"
    wait_until(lambda: b"First title" in client.get(url).get_data())
    # Another node changes it: a second app on the same database, in its own context.
    settings = ("SQLALCHEMY_DATABASE_URI", "TESTING", "SEARCH_INDEX_DIR")
    other = create_app({name: app.config[name] for name in settings})
    with other.app_context():
        edit_document(db.session.get(Document, document.id), title="Second title")
        db.session.remove()
        db.engine.dispose()
    wait_until(lambda: b"Second title" in client.get(url).get_data(), limit=2.0)


def test_a_request_with_credentials_reads_the_version_itself(
    app: Flask, listening: VersionWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader's own change shows on their next page, whatever the watch has heard."""
    monkeypatch.setattr(listening, "version", lambda **_: -1)  # a watch far behind
    version = data_version()
    for headers in ({"Cookie": "session=x"}, {"Cookie": "remember_token=x"},
                    {"Authorization": "Bearer x"}):  # fmt: skip
        with app.test_request_context("/", headers=headers):
            assert data_version() == version
    with app.test_request_context("/"):
        assert data_version() == -1  # a visitor's: the watch's


@pytest.fixture
def kept_reader_page(
    client: FlaskClient,
    listening: VersionWatch,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
) -> tuple[str, str]:
    """A government note's URL and page, read by a signed-in official and kept under the
    version the watch has heard."""
    url = f"/documents/{make_document(visibility=Visibility.GOVERNMENT, title='Watched').slug}"
    assert sign_in(client, make_user(Role.GOVERNMENT, "FR").email).status_code == 302
    assert client.get("/").status_code == 200  # the "signed in" message
    with client.session_transaction() as session:  # signed in a while ago
        session[reader_pages.OWN_CHANGE_KEY] -= reader_pages.OWN_CHANGE_SECONDS + 1
    wait_until(lambda: listening.version() == data_version())
    page = client.get(url).get_data(as_text=True)
    assert "Watched" in page and client.get(url).get_data(as_text=True) == page
    return url, page


def _read_with_statements(client: FlaskClient, url: str) -> tuple[list[str], str]:
    """The statements a request for `url` sends from this thread, and the page it gets."""
    served: list[str] = []
    reads = statements_on_this_thread(lambda: served.append(client.get(url).get_data(as_text=True)))
    return reads, served[0]


def test_a_readers_kept_page_needs_no_query_while_the_watch_listens(
    client: FlaskClient, kept_reader_page: tuple[str, str]
) -> None:
    url, page = kept_reader_page
    reads, served = _read_with_statements(client, url)
    assert reads == [] and served == page


def test_a_watch_silent_for_a_heartbeat_and_a_half_is_not_trusted_for_readers(
    app: Flask,
    client: FlaskClient,
    listening: VersionWatch,
    kept_reader_page: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, page = kept_reader_page
    monkeypatch.setattr(version_watch, "READER_LIVE_SECONDS", -1.0)  # as if long ago
    reads, served = _read_with_statements(client, url)
    assert len(reads) == 1 and served == page  # the version read: the page is still kept
    with app.test_request_context("/"):
        assert listening.version() is not None  # visitors still take it


def test_a_session_ended_elsewhere_gets_no_kept_page_once_the_watch_hears_of_it(
    client: FlaskClient,
    postgres_url: str,
    listening: VersionWatch,
    kept_reader_page: tuple[str, str],
) -> None:
    url, _ = kept_reader_page
    heard = listening.version()
    # Ended by hand on another connection (another node, an operator): no audit event.
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as other:
        other.execute("UPDATE user_sessions SET ended_at = now()")
    wait_until(lambda: listening.version() != heard)
    response = client.get(url)
    assert response.status_code == 404 and "Watched" not in response.get_data(as_text=True)


def test_a_readers_own_change_shows_whatever_the_watch_has_heard(
    client: FlaskClient,
    listening: VersionWatch,
    kept_reader_page: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, page = kept_reader_page
    heard = listening.version()
    monkeypatch.setattr(listening, "version", lambda **_: heard)  # it hears nothing more
    assert client.get(url).get_data(as_text=True) == page  # kept: the watch vouches for it
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(f"{url}/comments", data={"csrf_token": token, "source": "Seen."})
    assert response.status_code == 302
    # The session noted the time of its change: for a few seconds the version is read, so the
    # page kept before the comment is not served again.
    for _ in range(3):  # with the "posted" message, then without it
        assert "Seen." in client.get(url).get_data(as_text=True)


def test_a_lost_connection_is_replaced_and_nothing_is_missed(
    app: Flask,
    postgres_url: str,
    listening: VersionWatch,
    make_document: Callable[..., Document],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="portal.data_version")
    make_document(title="Before")
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:  # as a database restart would, for the watch
            ended = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": watch_application_name()},  # this process's watch only
            ).all()
    finally:
        engine.dispose()
    assert ended and all(row[0] for row in ended)
    make_document(title="While it was away")  # announced to nobody
    wait_until(lambda: listening.version() == data_version())
    messages = [record.getMessage() for record in caplog.records]
    assert any("not listening" in m for m in messages), messages
    assert any("listening again" in m for m in messages), messages


def test_a_length_that_goes_down_is_read_at_once(
    app: Flask, listening: VersionWatch, make_document: Callable[..., Document]
) -> None:
    """Rows deleted (a test, a restore): the lower length is announced, and read (the
    fixture's watch would not read by itself for a minute)."""
    make_document(title="Counted")
    wait_until(lambda: listening.version() == data_version() > 0)
    db.session.execute(delete(AuditChainHead))
    db.session.commit()
    wait_until(lambda: listening.version() == 0, limit=2.0)


def test_what_is_not_a_length_is_checked_against_the_database(
    postgres_url: str, listening: VersionWatch, caplog: pytest.LogCaptureFixture
) -> None:
    version = listening.version()
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as sender:
        sender.execute(f"NOTIFY {CHANNEL}, 'not a length'")
        sender.execute(f"NOTIFY {CHANNEL}, '-1'")
    time.sleep(0.5)
    assert listening.version() == version
    assert not [r for r in caplog.records if r.name == "portal.data_version"]


def test_a_connection_that_changes_server_sessions_stops_the_watch(
    listening: VersionWatch, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Behind a proxy pooling transactions, notifications reach another session: the watch
    gives up for good and the version is read per request."""
    another_session_each_time = select(cast(func.random() * 1e9, Integer), literal(1))
    monkeypatch.setattr(listening, "_read_statement", another_session_each_time)
    monkeypatch.setattr(version_watch, "HEARTBEAT_SECONDS", 0.05)
    wait_until(lambda: listening.version() is None)
    assert any("pooling" in r.getMessage() for r in caplog.records)
    time.sleep(version_watch.RETRY_SECONDS + 0.5)
    assert listening.version() is None  # and it does not connect again


def test_a_watch_that_cannot_connect_vouches_for_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={
        "connect_timeout": 1})  # fmt: skip
    watch = VersionWatch(engine, select(literal(1)))
    try:
        assert watch.version() is None
        wait_until(lambda: any("not listening" in r.getMessage() for r in caplog.records))
        assert watch.version() is None
    finally:
        watch.stop()
        engine.dispose()


def test_a_silent_watch_stops_vouching(
    listening: VersionWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that hangs (no error, no word) is trusted for LIVE_SECONDS at most."""
    assert listening.version() is not None
    monkeypatch.setattr(version_watch, "LIVE_SECONDS", -1.0)  # as if it were that long ago
    assert listening.version() is None


def test_the_watch_stops_with_the_apps_engine(app: Flask, listening: VersionWatch) -> None:
    threads = [t for t in threading.enumerate() if t.name == "data-version-watch" and t.is_alive()]
    assert threads
    db.engine.dispose()
    wait_until(lambda: not any(t.is_alive() for t in threads))
    assert listening.version() is None
    # The next request starts another.
    again = _watch()
    assert again is not None and again is not listening
    try:
        wait_until(lambda: again.version() is not None)
    finally:
        again.stop()


def test_on_by_default_in_production_only(tmp_path) -> None:
    production = {"PORTAL_ENV": "production", "SECRET_KEY": "s" * 40,
                  "PORTAL_BASE_URL": "https://portal.example"}  # fmt: skip

    def listens(environ: dict[str, str]) -> object:
        return load_config(tmp_path, environ)["DATA_VERSION_LISTEN"]

    assert listens(production) is True
    assert listens({**production, "DATA_VERSION_LISTEN": "0"}) is False
    assert listens({}) is False
    assert listens({"DATA_VERSION_LISTEN": "1"}) is True


def test_sqlite_has_no_watch(app: Flask) -> None:
    """Nothing to listen to on SQLite (one machine): every request reads the version."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite only")
    app.config["DATA_VERSION_LISTEN"] = True
    assert _watch() is None
