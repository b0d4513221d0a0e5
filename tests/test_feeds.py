"""Atom feeds: the public feed carries public documents only; a private link carries what its
owner may read at the moment the feed is read; conditional GET; valid Atom."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from defusedxml import ElementTree
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import visitor_pages
from portal.access import CONTENT_LOADER
from portal.admin.services import change_role, deactivate_account
from portal.auth.attribution import set_attribution
from portal.documents.services import withdraw_document
from portal.extensions import db
from portal.feeds import atom
from portal.models import (
    Attribution,
    Document,
    DocumentStatus,
    DocumentType,
    FeedToken,
    Role,
    User,
    Visibility,
)
from portal.visitor_pages import body_etag
from tests.conftest import csrf_token, edit_document, sign_in

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED = "/feeds/documents.atom"


def parse(response: Any) -> Any:
    """The Atom document of a response, parsed safely, after checking it is a valid feed."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/atom+xml"
    feed = ElementTree.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{required}") is not None, required
    for entry in feed.findall(f"{ATOM}entry"):
        for required in ("id", "title", "updated"):
            assert entry.find(f"{ATOM}{required}").text, required
        assert entry.find(f"{ATOM}author/{ATOM}name").text
        alternate = entry.find(f"{ATOM}link[@rel='alternate']")
        assert alternate is not None and alternate.get("href").startswith(("http://", "https://"))
    return feed


def titles(response: Any) -> set[str]:
    """The titles of the entries of a feed response."""
    return {e.find(f"{ATOM}title").text for e in parse(response).findall(f"{ATOM}entry")}


@pytest.fixture
def every_kind(make_document: Callable[..., Document]) -> dict[str, Document]:
    """One French implementation note on commitment 1 of each visibility and status, so every
    filter below would match each of them if access did not stop it."""
    documents = {}
    for visibility in Visibility:
        for status in DocumentStatus:
            name = f"{visibility.value} {status.value}"
            initial = DocumentStatus.PUBLISHED if status is DocumentStatus.WITHDRAWN else status
            documents[name] = make_document(
                DocumentType.IMPLEMENTATION_NOTE, visibility, initial, title=name
            )
            if status is DocumentStatus.WITHDRAWN:
                withdraw_document(CONTENT_LOADER, documents[name], "test")
                db.session.commit()
    return documents


FILTERS = [
    "",
    "?type=implementation_note",
    "?state=FR",
    "?state=fr",
    "?commitment=1",
    "?type=implementation_note&state=FR&commitment=1",
]


@pytest.mark.parametrize("query", FILTERS)
def test_anonymous_feed_never_carries_restricted_drafts_or_withdrawn_documents(
    client: FlaskClient, every_kind: dict[str, Document], query: str
) -> None:
    assert titles(client.get(FEED + query)) == {"public published"}


@pytest.mark.parametrize("role", ["government", "secretariat", "civil_society"])
def test_public_feed_is_public_even_for_a_signed_in_reader(
    client: FlaskClient, login_as: Callable[..., User], every_kind: dict[str, Document], role: str
) -> None:
    login_as(role)
    assert titles(client.get(FEED)) == {"public published"}


def test_feed_filters_narrow_the_entries(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    make_document(DocumentType.IMPLEMENTATION_NOTE, title="French note", commitment_numbers=(1,))
    make_document(DocumentType.LESSON_LEARNED, title="German lesson", state_code="DE",
                  commitment_numbers=(2,))  # fmt: skip
    assert titles(client.get(FEED + "?state=DE")) == {"German lesson"}
    assert titles(client.get(FEED + "?commitment=1")) == {"French note"}
    assert titles(client.get(FEED + "?type=lesson_learned")) == {"German lesson"}
    assert titles(client.get(FEED + "?type=review")) == set()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?type=nonsense", 400),
        ("?commitment=9", 400),
        ("?commitment=1%27%20OR%201=1", 400),
        ("?state=ZZ", 404),
        ("?state=" + "X" * 500, 404),
    ],
)
def test_a_filter_that_names_nothing_is_a_clear_4xx(
    client: FlaskClient, query: str, status: int
) -> None:
    assert client.get(FEED + query).status_code == status


def test_entries_link_on_the_configured_address_never_on_the_host_header(
    app: Flask, client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    app.config["BASE_URL"] = "https://echri.example"
    document = make_document(title="Licensing criteria", source="Our **criteria** & process.")
    feed = parse(client.get(FEED, headers={"Host": "attacker.example"}))
    assert b"attacker.example" not in ElementTree.tostring(feed)
    [entry] = feed.findall(f"{ATOM}entry")
    link = entry.find(f"{ATOM}link[@rel='alternate']").get("href")
    assert link == f"https://echri.example/documents/{document.slug}"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == f"https://echri.example{FEED}"
    assert entry.find(f"{ATOM}summary").text == "Our criteria & process."
    assert entry.find(f"{ATOM}author/{ATOM}name").text == "ECHRI secretariat"
    terms = {c.get("term") for c in entry.findall(f"{ATOM}category")}
    assert {"implementation_note", "FR", "1", "public"} <= terms
    assert feed.get(XML_LANG) == "en"
    assert entry.find(f"{ATOM}title").get(XML_LANG) == document.lang


def test_a_pseudonymous_author_is_named_as_they_sign(
    client: FlaskClient, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    author = make_user("civil_society", name="Real Name", organisation="Rights Watch")
    set_attribution(author, Attribution.PSEUDONYM, "Night Owl")
    db.session.commit()
    make_document(DocumentType.REVIEW, author=author, title="A review")
    feed = client.get(FEED).get_data(as_text=True)
    assert "Night Owl" in feed
    assert "Real Name" not in feed


def test_a_feed_reader_that_has_the_feed_gets_304_until_it_changes(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    make_document(title="First note")
    first = client.get(FEED)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified
    assert client.get(FEED, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(FEED, headers={"If-Modified-Since": modified}).status_code == 304
    make_document(title="Second note")
    again = client.get(FEED, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert titles(again) == {"First note", "Second note"}


def test_a_kept_feed_is_served_with_the_entity_tag_made_when_it_was_kept(
    client: FlaskClient, make_document: Callable[..., Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_document(title="First note")
    first = client.get(FEED)
    assert first.headers["ETag"] == f'"{body_etag(first.get_data())}"'

    def hashed_again(body: bytes) -> str:
        raise AssertionError("a kept feed's body was hashed again")

    monkeypatch.setattr(atom, "body_etag", hashed_again)
    monkeypatch.setattr(visitor_pages, "body_etag", hashed_again)
    again = client.get(FEED)
    assert again.get_data() == first.get_data() and again.headers["ETag"] == first.headers["ETag"]


def test_an_edit_to_a_public_document_that_restricts_it_removes_it_from_the_feed(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    document = make_document(title="Soon restricted")
    assert titles(client.get(FEED)) == {"Soon restricted"}
    edit_document(document, visibility=Visibility.GOVERNMENT)
    assert titles(client.get(FEED)) == set()


def test_the_document_list_offers_its_feed(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    page = client.get("/documents/?state=FR").get_data(as_text=True)
    assert re.search(
        r'<link rel="alternate" type="application/atom\+xml"[^>]*'
        r'href="/feeds/documents.atom\?state=FR"',
        page,
    )
    assert ">Atom feed</a>" in page


# -- Private feeds ------------------------------------------------------------------------


def make_private_link(client: FlaskClient) -> str:
    """Make a private feed link through the subscriptions page; its path."""
    token = csrf_token(client, "/account/subscriptions")
    response = client.post("/account/subscriptions/feed-link", data={"csrf_token": token})
    assert response.status_code == 200
    match = re.search(
        r'value="https?://[^/"]+(/feeds/private/[^"]+)"', response.get_data(as_text=True)
    )
    assert match, "the new link is shown"
    return match.group(1)


def test_a_private_feed_carries_what_its_owner_may_read(
    app: Flask, client: FlaskClient, login_as: Callable[..., User], every_kind: dict[str, Document]
) -> None:
    login_as("government", "FR")
    path = make_private_link(client)
    reader = app.test_client()  # a feed reader: no session
    response = reader.get(path)
    assert titles(response) == {
        "public published",
        "participants published",
        "government published",
    }
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]
    etag = response.headers["ETag"]
    assert reader.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert titles(reader.get(path + "?visibility=x&type=review")) == set()
    assert reader.get(path + "?commitment=7").status_code == 400


def test_an_industry_private_feed_never_carries_government_documents(
    app: Flask, client: FlaskClient, login_as: Callable[..., User], every_kind: dict[str, Document]
) -> None:
    login_as("industry")
    path = make_private_link(client)
    assert titles(app.test_client().get(path)) == {"public published", "participants published"}


def test_only_the_hash_of_a_private_link_is_stored(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as("civil_society")
    secret = make_private_link(client).split("/")[3]
    stored = db.session.scalars(select(FeedToken.token_hash)).all()
    assert len(stored) == 1 and secret not in stored[0]


def test_a_new_link_revokes_the_old_and_a_revoked_link_answers_404(
    app: Flask, client: FlaskClient, login_as: Callable[..., User], every_kind: dict[str, Document]
) -> None:
    login_as("industry")
    old = make_private_link(client)
    new = make_private_link(client)
    reader = app.test_client()
    assert reader.get(old).status_code == 404
    assert reader.get(new).status_code == 200
    token = csrf_token(client, "/account/subscriptions")
    client.post("/account/subscriptions/feed-link/revoke", data={"csrf_token": token})
    assert reader.get(new).status_code == 404


def test_a_private_feed_follows_its_owner_role_change_at_once(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: Callable[..., User],
    every_kind: dict[str, Document],
) -> None:
    owner = login_as("government", "FR")
    path = make_private_link(client)
    reader = app.test_client()
    assert "government published" in titles(reader.get(path))
    change_role(make_user("secretariat"), owner, Role.INDUSTRY, None)
    db.session.commit()
    assert titles(reader.get(path)) == {"public published", "participants published"}


def test_a_private_feed_of_a_deactivated_owner_answers_404(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: Callable[..., User],
    every_kind: dict[str, Document],
) -> None:
    owner = login_as("civil_society")
    path = make_private_link(client)
    deactivate_account(make_user("secretariat"), owner)
    db.session.commit()
    assert app.test_client().get(path).status_code == 404


@pytest.mark.parametrize("path", ["/feeds/private/not-a-token/documents.atom",
                                  "/feeds/private/" + "a" * 300 + "/documents.atom"])  # fmt: skip
def test_an_unknown_private_link_answers_404(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_an_unapproved_account_cannot_make_a_private_link(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    user = make_user("industry", approved=False)
    sign_in(client, user.email)
    page = client.get("/account/subscriptions")
    assert page.status_code == 200
    assert "feed-link" not in page.get_data(as_text=True)
    token = csrf_token(client, "/auth/account")
    response = client.post("/account/subscriptions/feed-link", data={"csrf_token": token})
    assert response.status_code == 403
    assert db.session.scalars(select(FeedToken)).all() == []


def test_the_subscriptions_page_needs_a_signed_in_user(client: FlaskClient) -> None:
    response = client.get("/account/subscriptions")
    assert response.status_code == 302
    assert "/auth/sign-in" in response.location
