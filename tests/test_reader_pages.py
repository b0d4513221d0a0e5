"""Pages kept for a signed-in reader's own session: read again without a render, never shared."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from portal import reader_pages
from portal.data_version import data_version
from portal.extensions import db, login_manager
from portal.models import AuditChainHead, Document, Role, User, UserSession, Visibility
from tests.conftest import edit_document, sign_in, statements_on_this_thread

Maker = Callable[..., Document]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _sign_in(client: FlaskClient, user: User) -> None:
    """Sign in and read the home page once (it shows the "signed in" message)."""
    assert sign_in(client, user.email).status_code == 302
    assert client.get("/").status_code == 200


def _government_note(make_document: Maker) -> tuple[Document, str]:
    document = make_document(visibility=Visibility.GOVERNMENT, title="Brokering risk note")
    return document, f"/documents/{document.slug}"


def test_a_readers_page_is_kept_for_their_session_until_an_audited_change(
    client: FlaskClient, make_user: Callable[..., User], make_document: Maker
) -> None:
    document, url = _government_note(make_document)
    official = make_user(Role.GOVERNMENT, "FR", name="Amélie Official")
    _sign_in(client, official)
    first = client.get(url)
    assert first.status_code == 200 and "Amélie Official" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "private, no-cache"
    # A change that bypasses the services (and so the audit trail) is not seen: the page is kept.
    db.session.execute(
        update(Document).where(Document.id == document.id).values(title="Changed behind its back")
    )
    db.session.commit()
    assert client.get(url).get_data() == first.get_data()
    # A change through the services appends an audit event: the kept page is stale at once.
    edit_document(db.session.get(Document, document.id), title="Revised brokering note")
    assert "Revised brokering note" in client.get(url).get_data(as_text=True)


def test_a_kept_page_is_never_served_to_another_session(
    app: Flask, client: FlaskClient, make_user: Callable[..., User], make_document: Maker
) -> None:
    _, url = _government_note(make_document)
    official = make_user(Role.GOVERNMENT, "FR", name="Amélie Official")
    other = make_user(Role.GOVERNMENT, "DE", name="Dieter Official")
    _sign_in(client, official)
    kept = [client.get(url).get_data(as_text=True) for _ in range(2)]
    assert kept[0] == kept[1]
    # Another account, and the same account signed in on a second browser.
    for user, name in ((other, "Dieter Official"), (official, "Amélie Official")):
        browser = app.test_client()
        _sign_in(browser, user)
        page = browser.get(url).get_data(as_text=True)
        assert name in page
        assert _csrf(page) != _csrf(kept[0]), "CSRF tokens belong to one session"
    visitor = app.test_client().get(url)
    assert visitor.status_code == 404 and "Amélie Official" not in visitor.get_data(as_text=True)


@pytest.fixture
def kept_note(client: FlaskClient, make_user: Callable[..., User], make_document: Maker) -> str:
    """A government note's URL, read twice by a signed-in official: it is now kept."""
    _, url = _government_note(make_document)
    _sign_in(client, make_user(Role.GOVERNMENT, "FR"))
    first = client.get(url)
    assert first.status_code == 200 and client.get(url).get_data() == first.get_data()
    return url


def test_an_ended_session_gets_no_kept_page(client: FlaskClient, kept_note: str) -> None:
    url = kept_note
    assert client.get(url).status_code == 200
    # Ended elsewhere ("sign out everywhere", an administrator) without an audit event.
    db.session.execute(update(UserSession).values(ended_at=dt.datetime.now(dt.UTC)))
    db.session.commit()
    assert client.get(url).status_code == 404


def test_a_waiting_message_is_shown_not_hidden_by_a_kept_page(
    client: FlaskClient, kept_note: str
) -> None:
    url = kept_note
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Your export is ready.")]
    assert "Your export is ready." in client.get(url).get_data(as_text=True)


def test_forms_on_a_kept_page_still_work(client: FlaskClient, kept_note: str) -> None:
    url = kept_note
    kept = client.get(url).get_data(as_text=True)
    response = client.post(
        f"{url}/comments",
        data={"csrf_token": _csrf(kept), "source": "Seen at the plenary."},
    )
    assert response.status_code == 302
    # Shown with the "posted" message, then again from the page kept after it.
    for _ in range(3):
        assert "Seen at the plenary." in client.get(url).get_data(as_text=True)


def _changed_by_another_worker(
    monkeypatch: pytest.MonkeyPatch, *statements: Any, after_the_read: bool = False
) -> None:
    """Run `statements` on another connection and commit, once: just before this request
    takes the data version, or just after it."""
    real_version = reader_pages.data_version

    def version(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(reader_pages, "data_version", real_version)
        if not after_the_read:
            _commit_elsewhere(statements)
        taken = real_version(*args, **kwargs)
        if after_the_read:
            _commit_elsewhere(statements)
        return taken

    monkeypatch.setattr(reader_pages, "data_version", version)


def _commit_elsewhere(statements: tuple[Any, ...]) -> None:
    with Session(db.engine) as other:
        for statement in statements:
            other.execute(statement)
        other.commit()


def test_a_page_is_never_kept_from_an_account_older_than_its_version(
    app: Flask,
    client: FlaskClient,
    make_user: Callable[..., User],
    make_document: Maker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = _government_note(make_document)
    official = make_user(Role.GOVERNMENT, "FR", name="Amélie Official")
    _sign_in(client, official)
    # The idle clock is due to move on, so the idle-session check loads the account first.
    with client.session_transaction() as session:
        session["seen_at"] -= 120
    # Another worker renames the account (an audited change) after this request loaded the
    # account and before it reads the data version.
    _changed_by_another_worker(
        monkeypatch,
        update(User).where(User.id == official.id).values(name="Amélie Renamed"),
        update(AuditChainHead).values(length=AuditChainHead.length + 1),
    )
    assert client.get(url).status_code == 200  # drawn from the account as first loaded
    for _ in range(2):
        assert "Amélie Renamed" in client.get(url).get_data(as_text=True)


def test_a_language_saved_elsewhere_applies_at_once(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_document: Maker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = _government_note(make_document)
    official = make_user(Role.GOVERNMENT, "FR")
    _sign_in(client, official)
    # The account is saved in French (from another browser) after this request took the
    # version and before the view loads the account: drawn in French, kept under the old
    # version, which the saved language has moved on.
    _changed_by_another_worker(
        monkeypatch,
        update(User).where(User.id == official.id).values(locale="fr"),
        after_the_read=True,
    )
    for _ in range(2):
        assert '<html lang="fr"' in client.get(url).get_data(as_text=True)
    # Saved back by hand in SQL: the database counts it all the same.
    db.session.execute(update(User).where(User.id == official.id).values(locale=None))
    db.session.commit()
    assert '<html lang="en"' in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize(
    "change",
    [{"active": False}, {"session_version": User.session_version + 1}],
    ids=["deactivated", "signed out everywhere"],
)
def test_an_account_changed_without_an_audit_event_gets_no_kept_page(
    client: FlaskClient, kept_note: str, change: dict[str, object]
) -> None:
    url = kept_note
    db.session.execute(update(User).values(**change))
    db.session.commit()
    response = client.get(url)
    assert response.status_code == 404 and "Sign out" not in response.get_data(as_text=True)


def test_an_idle_session_gets_no_kept_page(client: FlaskClient, kept_note: str) -> None:
    url = kept_note
    with client.session_transaction() as session:
        session["seen_at"] -= 31 * 60
    response = client.get(url)
    assert response.status_code == 404
    assert "signed out after a period without activity" in response.get_data(as_text=True)


def test_a_kept_page_costs_one_read_and_no_account_load(
    client: FlaskClient, kept_note: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = kept_note

    def no_account(session_id: str) -> None:
        raise AssertionError("a kept page was served only after loading the account")

    monkeypatch.setattr(login_manager, "_user_callback", no_account)
    served: list[int] = []
    statements = statements_on_this_thread(lambda: served.append(client.get(url).status_code))
    assert served == [200]
    assert len(statements) == 1, statements  # the data version (none with the watch)


def test_the_accounts_language_applies_at_once_to_kept_pages(
    client: FlaskClient, kept_note: str
) -> None:
    url = kept_note
    kept = client.get(url).get_data(as_text=True)
    assert '<html lang="en"' in kept
    # Saving the account's language moves the data version (migration 0008).
    response = client.post("/language", data={"lang": "fr", "next": url, "csrf_token": _csrf(kept)})
    assert response.status_code == 302
    assert '<html lang="fr"' in client.get(url).get_data(as_text=True)
    assert '<html lang="fr"' in client.get(url).get_data(as_text=True)


def test_a_kept_page_carries_the_csrf_token_of_the_session_reading_it(
    client: FlaskClient, kept_note: str
) -> None:
    url = kept_note
    kept = client.get(url).get_data(as_text=True)
    # The same server-side session with another CSRF secret (a cookie restored from a copy
    # made before its first form, say): its forms must carry a token of its own secret.
    with client.session_transaction() as session:
        session["csrf_token"] = "0" * 40
    page = client.get(url).get_data(as_text=True)
    assert _csrf(page) != _csrf(kept)
    response = client.post(f"{url}/comments", data={"csrf_token": _csrf(page), "source": "Noted."})
    assert response.status_code == 302


def test_a_copied_cookie_gets_no_kept_page_once_its_session_signed_out(
    app: Flask, client: FlaskClient, kept_note: str
) -> None:
    url = kept_note
    kept = client.get(url)
    copy = app.test_client()  # another browser with the same cookie (copied, stolen)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain="portal.test")
    assert cookie is not None
    copy.set_cookie(cookie.key, cookie.value, domain="portal.test")
    assert copy.get(url).get_data() == kept.get_data()  # the kept page, for that session
    assert client.post("/auth/sign-out", data={"csrf_token": _csrf(kept.get_data(as_text=True))})
    response = copy.get(url)
    assert response.status_code == 404 and "Sign out" not in response.get_data(as_text=True)


def _version_now() -> int:
    return data_version()  # outside a request: read from the database


@pytest.mark.parametrize(
    ("table", "change"),
    [
        ("users", {"active": False}),
        ("users", {"session_version": 5}),
        ("users", {"locale": "fr"}),
        ("user_sessions", {"ended_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}),
        ("user_sessions", None),  # a live session's row deleted
    ],
    ids=["deactivated", "signed out everywhere", "language", "session ended", "session deleted"],
)
def test_every_change_of_access_moves_the_data_version_however_it_is_made(
    client: FlaskClient,
    make_user: Callable[..., User],
    table: str,
    change: dict[str, object] | None,
) -> None:
    """Made by hand in SQL, without the services: the database's triggers count it."""
    official = make_user(Role.GOVERNMENT, "FR")
    _sign_in(client, official)
    model = User if table == "users" else UserSession
    before = _version_now()
    db.session.execute(update(User).values(name="Renamed by hand"))  # not a change of access
    db.session.execute(update(UserSession).values(created_at=dt.datetime.now(dt.UTC)))
    db.session.commit()
    assert _version_now() == before
    statement = delete(model) if change is None else update(model).values(**change)
    db.session.execute(statement)
    db.session.commit()
    assert _version_now() == before + 1  # one row: counted once
    db.session.execute(statement)  # the same values again: nothing changed, nothing counted
    db.session.commit()
    assert _version_now() == before + 1


def test_deletions_and_reopened_sessions_are_counted_as_they_should_be(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    official = make_user(Role.GOVERNMENT, "FR")
    secretariat = make_user(Role.SECRETARIAT)
    _sign_in(client, official)
    counted = _version_now()
    steps = [
        (update(UserSession).values(ended_at=dt.datetime.now(dt.UTC)), 1),  # ended
        (update(UserSession).values(ended_at=None), 1),  # opened again by hand
        (update(UserSession).values(user_id=secretariat.id), 1),  # moved
        (update(UserSession).values(ended_at=dt.datetime.now(dt.UTC)), 1),
        (delete(UserSession), 0),  # an ended session's row: nothing changes
        (update(User).where(User.id == official.id).values(role=Role.INDUSTRY, state_id=None), 1),
        (delete(User).where(User.id == official.id), 1),  # the account itself
    ]
    for statement, count in steps:
        db.session.execute(statement)
        db.session.commit()
        counted += count
        assert _version_now() == counted, statement


def test_a_session_ended_after_the_version_was_taken_gets_no_page_kept(
    client: FlaskClient, kept_note: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = kept_note
    _changed_by_another_worker(
        monkeypatch,
        update(UserSession).values(ended_at=dt.datetime.now(dt.UTC)),
        after_the_read=True,
    )
    response = client.get(url)  # the kept page, taken with the version before the end
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 404 and "Sign out" not in response.get_data(as_text=True)


def test_no_page_is_kept_without_the_audit_chain_head(
    client: FlaskClient, kept_note: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables emptied by hand: nothing counts ends of sessions until the next audited change."""
    url = kept_note
    db.session.execute(delete(AuditChainHead))
    db.session.commit()
    loads: list[str] = []
    real_loader = login_manager._user_callback

    def loader(session_id: str) -> Any:
        loads.append(session_id)
        return real_loader(session_id)

    monkeypatch.setattr(login_manager, "_user_callback", loader)
    for _ in range(2):
        assert client.get(url).status_code == 200
    assert len(loads) == 2  # rendered each time, never kept
