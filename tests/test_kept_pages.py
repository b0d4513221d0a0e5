"""Kept pages (portal/kept_pages.py): each worker's within its budget, and shared between the
workers of a node through KEPT_PAGES_DIR without ever serving what a worker's own copy would
not (another version, too old, another session)."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app, kept_pages
from portal.config import load_config
from portal.extensions import db
from portal.kept_pages import KeptPage, KeptPages, SharedPages
from portal.models import Document, Revision, Role, User, Visibility
from tests.conftest import IsolatedClient, edit_document, sign_in

Maker = Callable[..., Document]


def _page(body: bytes = b"<p>kept</p>", age: float = 0.0) -> KeptPage:
    return KeptPage(body, "text/html", "etag", time.monotonic() - age)


def test_a_workers_kept_pages_stay_within_their_byte_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kept_pages, "MAX_BYTES", 3000)
    pages = KeptPages()
    assert pages.get("/a", 1, 30) is None  # adopts version 1
    for name in "abcd":
        pages.put(f"/{name}", 1, _page(b"x" * 1000))
    assert pages.get("/a", 1, 30) is None, "the oldest page made room"
    assert all(pages.get(f"/{name}", 1, 30) for name in "bcd")
    pages.put("/d", 1, _page(b"y" * 1000))  # replaced
    assert all(pages.get(f"/{name}", 1, 30) for name in "bcd")


def _shared(directory: Path, max_age: float = 30, **kwargs: int) -> SharedPages:
    return SharedPages(directory, b"secret", max_age, **kwargs)


def _two_workers(directory: Path, max_age: float = 30) -> tuple[KeptPages, KeptPages]:
    return KeptPages(_shared(directory, max_age)), KeptPages(_shared(directory, max_age))


def test_a_page_one_worker_kept_is_served_by_another_at_the_same_version(tmp_path: Path) -> None:
    first, second = _two_workers(tmp_path / "pages")
    assert first.get("/a", 7, 30) is None and second.get("/a", 7, 30) is None
    first.put("/a", 7, _page(b"<p>seven</p>"))
    page = second.get("/a", 7, 30)
    assert page is not None and page.body == b"<p>seven</p>" and page.etag == "etag"
    assert second.get("/b", 7, 30) is None
    assert second.get("/a", 8, 30) is None, "another version of the data"
    first.put("/a", 7, _page(b"<p>too old</p>", age=31))
    assert KeptPages(_shared(tmp_path / "pages")).get("/a", 7, 30) is None
    assert KeptPages(_shared(tmp_path / "pages", 60)).get("/a", 7, 20) is None


def test_a_page_made_for_an_older_version_is_not_shared(tmp_path: Path) -> None:
    first, second = _two_workers(tmp_path / "pages")
    first.get("/a", 2, 30)  # this worker has seen version 2 already
    first.put("/a", 1, _page(b"<p>made at version 1</p>"))
    assert not list((tmp_path / "pages").iterdir())
    assert second.get("/a", 1, 30) is None


def _app(tmp_path: Path, url: str = "sqlite:///one.sqlite3", **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="k" * 32, KEPT_PAGES_DIR=str(tmp_path / "kept")
    )
    app.config.update(config)
    return app


def test_shared_files_are_the_portals_own(tmp_path: Path) -> None:
    pages = kept_pages.kept_pages(_app(tmp_path), "readers")
    pages.get("/a", 1, 30)
    pages.put("/a", 1, _page(b"<p>Amelie</p>"))
    (file,) = (tmp_path / "kept").glob("*/readers/*")
    for directory in (tmp_path / "kept", file.parent.parent, file.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert b"/a" not in file.read_bytes(), "the key (a session's hash) is not written"


def test_a_directory_others_could_use_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "kept").mkdir(mode=0o755)
    (tmp_path / "kept").chmod(0o755)
    with caplog.at_level(logging.WARNING, "portal.pages"):
        pages = kept_pages.kept_pages(_app(tmp_path), "visitors")
    assert "not shared" in caplog.text and pages._shared is None


def test_a_new_server_starts_afresh_and_clears_earlier_servers_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = kept_pages.kept_pages(_app(tmp_path), "visitors")
    earlier.get("/", 1, 30)
    earlier.put("/", 1, _page())
    (file,) = (tmp_path / "kept").glob("*/visitors/*")
    monkeypatch.setattr(kept_pages.os, "getppid", lambda: 1)  # another master process
    later = kept_pages.kept_pages(_app(tmp_path), "visitors")
    assert later.get("/", 1, 30) is None, "a restart or a deployment: render again"
    assert file.exists(), "still young: the earlier server may be running"
    os.utime(file, (time.time() - 3600, time.time() - 3600))
    kept_pages.kept_pages(_app(tmp_path), "visitors")
    assert not file.exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: b"not json\n<p>",
        lambda data: b'{"version": 1}\n<p>',
        lambda data: b"[1, 2]\n<p>",
        lambda data: b"\xff\xfe\n",
        lambda data: data[:-3],  # a body cut short, its header whole
        lambda data: data.replace(b"kept", b"kEpt"),  # same length, other bytes
    ],
)
def test_a_damaged_file_is_rendered_again_not_served(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    first, second = _two_workers(tmp_path / "pages")
    first.get("/a", 1, 30)
    first.put("/a", 1, _page())
    (shared,) = (tmp_path / "pages").iterdir()
    assert KeptPages(_shared(tmp_path / "pages")).get("/a", 1, 30) is not None
    shared.write_bytes(damage(shared.read_bytes()))
    assert second.get("/a", 1, 30) is None


def test_an_unwritable_directory_only_stops_sharing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = _two_workers(tmp_path / "pages")
    first.get("/a", 1, 30)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(kept_pages.os, "replace", refuse)
    with caplog.at_level(logging.WARNING, "portal.pages"):
        first.put("/a", 1, _page())
    assert "No space left" in caplog.text
    assert first.get("/a", 1, 30) is not None, "still kept in the worker's memory"
    assert second.get("/a", 1, 30) is None
    assert not list((tmp_path / "pages").iterdir()), "nor a temporary file left"


def test_a_sweep_that_cannot_remove_files_does_not_fail_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kept_pages, "SWEEP_EVERY", 1)
    shared = _shared(tmp_path / "pages", max_files=0)

    def refuse(path: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(kept_pages.os, "unlink", refuse)
    shared.put("/a", 1, _page())  # sweeps, and cannot remove anything


def test_old_files_are_swept_and_their_number_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kept_pages, "SWEEP_EVERY", 5)
    shared = _shared(tmp_path / "pages", max_files=3)
    for number in range(4):
        shared.put(f"/{number}", 1, _page())
    for age, path in enumerate(sorted((tmp_path / "pages").iterdir()), start=5):
        os.utime(path, (time.time() - age, time.time() - age))  # older than the next
    stale = tmp_path / "pages" / "leftover"
    stale.write_bytes(b"x")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    shared.put("/4", 1, _page())  # the fifth write sweeps
    names = {path.name for path in (tmp_path / "pages").iterdir()}
    assert "leftover" not in names and len(names) == 3
    assert KeptPages(shared).get("/4", 1, 30) is not None, "the newest stay"


def test_sharing_is_on_by_default_in_production_only(tmp_path: Path) -> None:
    production = {"PORTAL_ENV": "production", "SECRET_KEY": "k" * 32}
    production["PORTAL_BASE_URL"] = "https://portal.example"
    assert load_config(tmp_path, production)["KEPT_PAGES_DIR"] == str(tmp_path / "kept-pages")
    assert load_config(tmp_path, {})["KEPT_PAGES_DIR"] == ""
    assert load_config(tmp_path, {"KEPT_PAGES_DIR": "/srv/kept"})["KEPT_PAGES_DIR"] == "/srv/kept"


def test_each_database_has_its_own_shared_pages(tmp_path: Path) -> None:
    def store(url: str) -> KeptPages:
        return kept_pages.kept_pages(_app(tmp_path, url), "visitors")

    one, other = store("sqlite:///one.sqlite3"), store("sqlite:///other.sqlite3")
    one.get("/", 1, 30)
    one.put("/", 1, _page())
    assert store("sqlite:///one.sqlite3").get("/", 1, 30) is not None
    assert other.get("/", 1, 30) is None
    assert len(list((tmp_path / "kept").iterdir())) == 2


@pytest.fixture
def workers(app: Flask, tmp_path: Path) -> Iterator[list[Flask]]:
    """Two more workers of the fixture app's node: same database, one KEPT_PAGES_DIR."""
    config = {
        key: app.config[key]
        for key in (
            *("SQLALCHEMY_DATABASE_URI", "TESTING", "SERVER_NAME", "CONTENT_DIR"),
            *("SEARCH_INDEX_DIR", "FILES_DIR", "MAIL_OUTBOX_DIR", "RATELIMIT_ENABLED"),
        )
    }
    made = [create_app({**config, "KEPT_PAGES_DIR": str(tmp_path / "kept")}) for _ in "ab"]
    for worker in made:
        worker.test_client_class = IsolatedClient
    yield made
    for worker in made:
        with worker.app_context():
            db.engine.dispose()


def test_a_visitor_page_rendered_by_one_worker_is_served_by_another(
    workers: list[Flask], make_document: Maker
) -> None:
    document = make_document(title="Licensing criteria")
    url = f"/documents/{document.slug}"
    first = workers[0].test_client().get(url)
    assert first.status_code == 200
    _change_behind_its_back(document)
    # The second worker never rendered it: it serves the first one's page, ETag and all.
    second = workers[1].test_client().get(url)
    assert second.get_data() == first.get_data()
    assert "Changed behind its back" in workers[1].test_client().get(f"{url}?fresh").get_data(
        as_text=True
    ), "rendered afresh, the page shows the change"
    assert second.headers["ETag"] == first.headers["ETag"]
    edit_document(db.session.get(Document, document.id), title="Revised licensing criteria")
    assert "Revised licensing criteria" in workers[1].test_client().get(url).get_data(as_text=True)


def _change_behind_its_back(document: Document) -> None:
    """A change no audit event records: a page rendered afresh would show it."""
    revision = db.session.get(Revision, document.current_revision_id)
    revision.html = "<p>Changed behind its back</p>"
    db.session.commit()


def _signed_in(worker: Flask, user: User) -> FlaskClient:
    client = worker.test_client()
    assert sign_in(client, user.email).status_code == 302
    assert client.get("/").status_code == 200
    return client


def _same_browser(client: FlaskClient, worker: Flask) -> FlaskClient:
    """A client of `worker` holding `client`'s cookies: the same browser, another worker."""
    other = worker.test_client()
    for cookie in client._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return other


def test_a_readers_page_is_shared_with_their_own_session_only(
    workers: list[Flask], make_user: Callable[..., User], make_document: Maker
) -> None:
    document = make_document(visibility=Visibility.GOVERNMENT, title="Brokering risk note")
    url = f"/documents/{document.slug}"
    amelie = make_user(Role.GOVERNMENT, "FR", name="Amélie Official")
    jonas = make_user(Role.GOVERNMENT, "DE", name="Jonas Official")
    browser = _signed_in(workers[0], amelie)
    first = browser.get(url)
    assert "Amélie Official" in first.get_data(as_text=True)
    _change_behind_its_back(document)
    # The same session on the other worker: the page the first worker kept for it.
    assert _same_browser(browser, workers[1]).get(url).get_data() == first.get_data()
    # Another session on the other worker: its own page, never Amélie's.
    page = _signed_in(workers[1], jonas).get(url).get_data(as_text=True)
    assert "Jonas Official" in page and "Amélie Official" not in page
    assert "Changed behind its back" in page, "rendered for Jonas, not read from Amélie's"
