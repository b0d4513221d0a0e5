"""Faults: a killed worker, the database going away, the index deleted, full or read-only."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, make_url, select
from werkzeug.datastructures import MultiDict
from whoosh.filedb.filestore import FileStorage

from portal import create_app
from portal.audit import verify_chain
from portal.data_version import _watch
from portal.extensions import db
from portal.models import AuditEvent, Document, Revision
from portal.search import search_index
from tests.conftest import CONTENT_DIR, IsolatedClient, sign_in
from tests.live_server import ROOT, find_form

POSTGRESQL_ONLY = "SQLite has no server to lose"

UNAVAILABLE = "temporarily unavailable"


def found(client, query: str) -> int:
    """How many results a search page shows (-1 if it shows no count)."""
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200, response.status_code
    match = re.search(r'id="results-heading">(\d+) result', response.get_data(as_text=True))
    return int(match.group(1)) if match else -1


# -- a worker killed in the middle of a publish ----------------------------------------------

PUBLISHER = """
import sys, time
from portal import create_app
from portal.access import CONTENT_LOADER
from portal.documents import services
from portal.documents.services import DocumentFields, create_document
from portal.extensions import db
from portal.models import DocumentStatus, DocumentType, Visibility
from portal.search.index import SearchIndex
from whoosh.writing import SegmentWriter


def stop_here(original):
    def stopped(*args, **kwargs):
        result = original(*args, **kwargs) if STAGE == "before-commit" else None
        print("stopped", flush=True)  # the test now sends SIGKILL
        time.sleep(60)
        return result
    return stopped


STAGE = sys.argv[1]
if STAGE == "before-commit":  # the document, revision and audit event are flushed
    services.log_search_change = stop_here(services.log_search_change)
elif STAGE == "after-commit":  # committed, the index not yet touched
    SearchIndex.catch_up = stop_here(SearchIndex.catch_up)
else:  # the index writer holds the lock and has the document, not yet committed
    SegmentWriter.commit = stop_here(SegmentWriter.commit)
app = create_app({"SQLALCHEMY_DATABASE_URI": DATABASE_URL, "SEARCH_INDEX_DIR": INDEX_DIR})
with app.app_context():
    fields = DocumentFields(title="Killed walrus note", source="Walrus licensing text.",
                            visibility=Visibility.PUBLIC, status=DocumentStatus.PUBLISHED)
    create_document(CONTENT_LOADER, DocumentType.PAGE, fields)
    db.session.commit()
"""


@pytest.mark.parametrize("stage", ["before-commit", "after-commit", "during-indexing"])
def test_a_worker_killed_mid_publish_leaves_the_database_consistent_and_the_index_heals(
    stage, app, client, database_url, tmp_path, make_document
):
    make_document(title="Earlier walrus note", source="Walrus text.")
    assert found(client, "walrus") == 1  # the index exists and is up to date
    db.session.remove()
    script = tmp_path / "publish.py"
    settings = f"DATABASE_URL = {database_url!r}\nINDEX_DIR = {app.config['SEARCH_INDEX_DIR']!r}"
    script.write_text(settings + textwrap.dedent(PUBLISHER))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(script), stage]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as worker:
        try:
            assert worker.stdout.readline().strip() == "stopped"
        finally:
            worker.kill()  # SIGKILL: no cleanup, no rollback, no atexit

    committed = stage != "before-commit"
    documents = db.session.scalars(select(Document)).all()
    assert len(documents) == (2 if committed else 1)
    assert all(d.current_revision is not None and d.current_revision.document_id == d.id
               for d in documents)  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(Revision)) == len(documents)
    creations = select(func.count()).select_from(AuditEvent)
    assert db.session.scalar(creations.where(AuditEvent.action == "document.create")) == len(
        documents
    )
    assert verify_chain(db.session).intact
    # No lock survives the dead process: the next publish goes through at once.
    make_document(title="Later walrus note", source="Walrus again.")
    assert found(client, "walrus") == len(documents) + 1
    status = search_index().status()
    assert status.changes_behind == 0
    assert status.documents_in_index == status.documents_in_database


# -- the database goes away --------------------------------------------------------------------


class TcpProxy:
    """A TCP proxy on 127.0.0.1 that can be stopped (every connection cut) and started again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.connections: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _call(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def start(self) -> None:
        """Listen (on the same port as before, after a stop)."""
        self._call(self._start())

    def stop(self) -> None:
        """Stop listening and cut every open connection, as a database restart does."""
        self._call(self._stop())

    def close(self) -> None:
        """Stop and end the proxy's thread."""
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.connections):
            writer.transport.abort()
        self.connections.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self.connections.discard(writer)
            writer.transport.abort()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    """A proxy in front of the test database, started."""
    url = make_url(postgres_url)
    tcp_proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    tcp_proxy.start()
    yield tcp_proxy
    tcp_proxy.close()


@pytest.fixture
def proxied(app, postgres_url: str, proxy: TcpProxy, tmp_path: Path) -> Iterator[Flask]:
    """A second app on the test database, through the proxy."""
    through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    proxied_app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": through_proxy.render_as_string(hide_password=False),
            "TESTING": True,
            "CONTENT_DIR": str(CONTENT_DIR),
            "SEARCH_INDEX_DIR": str(tmp_path / "proxied-index"),
            "RATELIMIT_ENABLED": False,
        }
    )
    proxied_app.test_client_class = IsolatedClient
    yield proxied_app
    with proxied_app.app_context():
        proxied_app.extensions["search"].close()
        db.engine.dispose()


@pytest.mark.parametrize("listen", [False, True], ids=["reading", "watching"])
def test_database_restart_under_load_gives_503_then_recovers_without_restarting_the_app(
    proxied, proxy, make_user, make_document, caplog, listen
):
    # Visitors' kept pages take the data version from the watch (production) or read it.
    proxied.config["DATA_VERSION_LISTEN"] = listen
    document = make_document(title="Narwhal note", source="Narwhal text.")
    official = make_user("government", "FR")
    editor = proxied.test_client()
    assert sign_in(editor, official.email).status_code == 302
    paths = ["/", f"/documents/{document.slug}", "/documents/", "/search?q=narwhal"]
    answers: list[tuple[str, int, str]] = []  # (phase, status, body)
    phase = "up"
    stop = threading.Event()

    def load() -> None:
        client = proxied.test_client()
        while not stop.is_set():
            for path in paths:
                response = client.get(path)
                answers.append((phase, response.status_code, response.get_data(as_text=True)))

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1)
        if listen:
            with proxied.app_context():
                watch = _watch()
            assert watch is not None and watch.version() is not None  # listening
        phase = "down"
        proxy.stop()
        time.sleep(1.5)
        down_edit = editor.get(f"/documents/{document.slug}/edit")
        phase = "restarting"
        proxy.start()
        time.sleep(0.5)
        phase = "back"
        time.sleep(1)
        # The same app, never restarted, takes a signed-in edit again.
        after = editor.get(f"/documents/{document.slug}/edit")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    by_phase = Counter((phase, status) for phase, status, _ in answers)
    assert set(status for _, status, _ in answers) <= {200, 503}, by_phase
    assert by_phase[("up", 200)] and by_phase[("down", 503)] and by_phase[("back", 200)], by_phase
    assert by_phase[("back", 503)] == 0, by_phase
    down_pages = [body for phase, status, body in answers if status == 503]
    assert all(UNAVAILABLE in body and "Traceback" not in body for body in down_pages)
    assert down_edit.status_code == 503 and down_edit.headers["Retry-After"]
    assert after.status_code == 200
    # (asyncio's are the test proxy's own: with the watch, a connection is often being
    # opened through it as it is cut)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")
                and r.name not in ("portal.search", "asyncio")]  # fmt: skip
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


def test_connection_lost_after_the_response_was_ready_is_logged_not_an_error(
    proxied, proxy, caplog
):
    proxied.after_request(lambda response: proxy.stop() or response)  # before the teardown
    assert proxied.test_client().get("/").status_code == 200
    assert any("connection lost after a request" in r.getMessage() for r in caplog.records)
    proxy.start()
    assert proxied.test_client().get("/").status_code == 200


def test_a_sqlite_database_locked_past_the_busy_timeout_gives_503_then_recovers(
    app, database_url, client, login_as, make_document
):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL going away is tested through a proxy")
    document = make_document(title="Ibex note", source="Ibex text.")
    login_as("government", "FR")
    edit = f"/documents/{document.slug}/edit"
    form = find_form(client.get(edit).get_data(as_text=True), "source")
    data = MultiDict(form.with_values(source="Ibex, edited."))
    db.session.remove()
    blocker = sqlite3.connect(make_url(database_url).database, timeout=0)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # a writer holding on past the 5 s busy timeout
        assert client.get(f"/documents/{document.slug}").status_code == 200  # readers go on
        refused = client.post(edit, data=data)
    finally:
        blocker.rollback()
        blocker.close()
    assert refused.status_code == 503
    assert UNAVAILABLE in refused.get_data(as_text=True)
    saved = client.post(edit, data=data)
    assert saved.status_code == 302


# -- the search index directory ----------------------------------------------------------------


def test_index_directory_deleted_under_load_rebuilds_itself(app, client, make_document):
    for n in range(5):
        make_document(title=f"Pangolin note {n}", source="Pangolin licensing text.")
    assert found(client, "pangolin") == 5
    directory = Path(app.config["SEARCH_INDEX_DIR"])
    statuses: list[int] = []
    counts: list[int] = []
    stop = threading.Event()

    def load() -> None:
        reader = app.test_client()
        while not stop.is_set():
            response = reader.get("/search?q=pangolin")
            statuses.append(response.status_code)
            match = re.search(r'results-heading">(\d+)', response.get_data(as_text=True))
            counts.append(int(match.group(1)) if match else -1)

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(3):
            time.sleep(0.3)
            # The app may be rebuilding it at this moment: files come and go under us.
            shutil.rmtree(directory, ignore_errors=True)
    finally:
        time.sleep(0.3)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert statuses and set(statuses) == {200}
    assert counts[-1] == 5
    assert (directory / "_MAIN_1.toc").exists() or any(directory.glob("*.toc"))
    make_document(title="Pangolin note 6", source="Pangolin again.")  # and it keeps in step
    assert found(client, "pangolin") == 6


@contextmanager
def unwritable(directory: Path, failure: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The index directory stops taking writes: a full disk, or a read-only directory."""
    if failure == "read-only" and os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    # A full disk, or a read-only directory for root (whom chmod does not stop): creating
    # a file fails as it would.
    code = errno.ENOSPC if failure == "full" else errno.EACCES

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    with monkeypatch.context() as patch:
        patch.setattr(FileStorage, "create_file", refuse)
        yield


@pytest.mark.parametrize("failure", ["full", "read-only"])
def test_unwritable_index_degrades_search_to_a_message_and_the_site_works(
    failure, app, client, make_document, login_as, monkeypatch
):
    make_document(title="Quokka note", source="Quokka licensing text.")
    assert found(client, "quokka") == 1
    login_as("government", "FR")
    with unwritable(Path(app.config["SEARCH_INDEX_DIR"]), failure, monkeypatch):
        new = make_document(title="Second quokka note", source="Quokka again.")
        assert client.get(f"/documents/{new.slug}").status_code == 200  # published all the same
        page = client.get("/search?q=quokka")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "may be out of date" in text and "Quokka note" in text
        for path in ("/", "/documents/", "/commitments/", f"/documents/{new.slug}/edit"):
            assert client.get(path).status_code == 200, path
    assert found(client, "quokka") == 2  # writable again: the index catches up by itself


def test_index_that_cannot_be_rebuilt_says_search_is_unavailable(
    app, client, make_document, monkeypatch
):
    make_document(title="Kinkajou note", source="Kinkajou text.")
    assert found(client, "kinkajou") == 1
    shutil.rmtree(app.config["SEARCH_INDEX_DIR"])

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(FileStorage, "create_file", refuse)
    page = client.get("/search?q=kinkajou")
    assert page.status_code == 503
    assert "Search is temporarily unavailable" in page.get_data(as_text=True)
    assert client.get("/").status_code == 200
    monkeypatch.undo()  # space is freed: search comes back by itself
    assert found(client, "kinkajou") == 1
