"""The API sees exactly what the same person sees on the site: documents, search, plenaries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.api.tokens import issue_token
from portal.extensions import db
from portal.models import Attribution, Document, User
from tests.conftest import sign_in
from tests.test_plenaries import circulated

#: (role, state, two-factor) for each kind of reader; None is a visitor.
READERS: dict[str, tuple[str, str | None, bool] | None] = {
    "visitor": None,
    "industry": ("industry", None, False),
    "civil society": ("civil_society", None, False),
    "government FR without 2FA": ("government", "FR", False),
    "government FR": ("government", "FR", True),
    "government DE": ("government", "DE", True),
    "secretariat": ("secretariat", None, True),
}

#: What each reader may read of France's notes, by (visibility, status), after BRIEF.md.
EXPECTED = {
    "visitor": {("public", "published")},
    "industry": {("public", "published"), ("participants", "published")},
    "civil society": {("public", "published"), ("participants", "published")},
    "government FR without 2FA": {
        (v, s) for v in ("public", "participants") for s in ("published", "draft", "withdrawn")
    },
    "government FR": {
        (v, s)
        for v in ("public", "participants", "government")
        for s in ("published", "draft", "withdrawn")
    },
    "government DE": {
        ("public", "published"),
        ("participants", "published"),
        ("government", "published"),
    },
    "secretariat": {
        (v, s)
        for v in ("public", "participants", "government")
        for s in ("published", "draft", "withdrawn")
    },
}


def bearer(user: User, scopes: str = "read") -> dict[str, str]:
    """An Authorization header with a new token of `user`."""
    issued = issue_token(user, user, "test", scopes, 30)
    db.session.commit()
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def france_notes(make_document: Callable[..., Document]) -> dict[tuple[str, str], Document]:
    """A French implementation note for every visibility and status, each with its own word."""
    notes = {}
    for visibility in ("public", "participants", "government"):
        for status in ("published", "draft", "withdrawn"):
            notes[(visibility, status)] = make_document(
                "implementation_note",
                visibility,
                status,
                title=f"Note {visibility} {status}",
                source=f"Licensing text with the marker word zq{visibility}{status}.",
            )
    return notes


def reader(app: Flask, make_user: Callable[..., User], kind: str) -> tuple[FlaskClient, dict]:
    """A browser signed in as this kind of reader, and the API header acting as them."""
    browser = app.test_client()
    spec = READERS[kind]
    if spec is None:
        return browser, {}
    role, code, two_factor = spec
    user = make_user(role, code, two_factor=two_factor)
    assert sign_in(browser, user.email).status_code == 302
    return browser, bearer(user)


def all_listed(client: FlaskClient, headers: dict[str, str]) -> set[str]:
    """Every slug the API lists, following `next` through small pages."""
    slugs: set[str] = set()
    url: str | None = "/api/v1/documents?limit=2"
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        slugs |= {item["slug"] for item in response.json["items"]}
        url = response.json["next"]
    return slugs


@pytest.mark.parametrize("kind", list(READERS))
def test_api_reads_the_same_documents_as_the_site(
    app: Flask, client: FlaskClient, make_user: Callable[..., User], france_notes: Any, kind: str
) -> None:
    browser, headers = reader(app, make_user, kind)
    expected = {france_notes[key].slug for key in EXPECTED[kind]}
    on_site = {
        note.slug
        for note in france_notes.values()
        if browser.get(f"/documents/{note.slug}").status_code == 200
    }
    assert on_site == expected, "the site itself follows the brief"
    for note in france_notes.values():
        response = client.get(f"/api/v1/documents/{note.slug}", headers=headers)
        assert response.status_code == (200 if note.slug in expected else 404), note.title
        history = client.get(f"/api/v1/documents/{note.slug}/revisions/1", headers=headers)
        assert history.status_code == response.status_code
    assert all_listed(client, headers) == expected


@pytest.mark.parametrize(
    "kind", ["visitor", "industry", "government FR without 2FA", "government DE", "secretariat"]
)
def test_api_search_finds_only_what_the_reader_may_read(
    app: Flask, client: FlaskClient, make_user: Callable[..., User], france_notes: Any, kind: str
) -> None:
    _, headers = reader(app, make_user, kind)
    for (visibility, status), note in france_notes.items():
        found = client.get(f"/api/v1/search?q=zq{visibility}{status}", headers=headers)
        assert found.status_code == 200
        slugs = [hit["slug"] for hit in found.json["hits"]]
        assert slugs == ([note.slug] if (visibility, status) in EXPECTED[kind] else []), note.title
        assert found.json["total"] == len(slugs)
    everything = client.get("/api/v1/search?q=licensing", headers=headers).json
    by_type = dict((f["value"], f["count"]) for f in everything["facets"]["type"])
    assert by_type.get("implementation_note", 0) == len(EXPECTED[kind])


def test_unreadable_and_unknown_documents_answer_the_same_404(
    client: FlaskClient, france_notes: Any
) -> None:
    hidden = client.get(f"/api/v1/documents/{france_notes[('government', 'published')].slug}")
    unknown = client.get("/api/v1/documents/no-such-document")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json == unknown.json
    assert hidden.mimetype == "application/problem+json"


def test_a_browser_session_does_not_reach_the_api(
    client: FlaskClient, login_as: Callable[..., User], france_notes: Any
) -> None:
    """Cookies are ignored: a signed-in browser is a visitor to the API, and cannot write."""
    login_as("secretariat")
    government = france_notes[("government", "published")]
    assert client.get(f"/documents/{government.slug}").status_code == 200
    assert client.get(f"/api/v1/documents/{government.slug}").status_code == 404
    created = client.post(
        "/api/v1/documents",
        json={"type": "page", "title": "T", "source": "S", "visibility": "public"},
    )
    assert created.status_code == 401
    assert created.headers["WWW-Authenticate"].startswith("Bearer")


def test_matrix_counts_what_the_reader_may_read(
    client: FlaskClient, make_user: Callable[..., User], france_notes: Any
) -> None:
    def france_on_first_commitment(headers: dict[str, str]) -> int:
        rows = client.get("/api/v1/matrix", headers=headers).json["rows"]
        france = next(row for row in rows if row["state"]["code"] == "FR")
        return france["cells"][0]["total"]

    assert france_on_first_commitment({}) == 1
    assert france_on_first_commitment(bearer(make_user("industry"))) == 2
    assert france_on_first_commitment(bearer(make_user("government", "DE"))) == 3
    bad = client.get("/api/v1/matrix?year=nineteen")
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"


def test_draft_minutes_only_for_those_who_may_read_them(
    app: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    secretariat = make_user("secretariat")
    circulated(secretariat, number=3, participants=("FR", "DE"), visibility="participants")
    delegation = bearer(make_user("government", "FR"))
    outsider = bearer(make_user("government", "JP"))
    industry = bearer(make_user("industry"))
    minutes = {
        name: client.get("/api/v1/plenaries/3", headers=headers).json["minutes"]["current"]
        for name, headers in (("FR", delegation), ("JP", outsider), ("industry", industry))
    }
    assert minutes["FR"] is not None and "licensing" in minutes["FR"]["markdown"]
    assert minutes["JP"] is None and minutes["industry"] is None
    assert client.get("/api/v1/plenaries/3").status_code == 404, "participants only"
    listed = client.get("/api/v1/plenaries", headers=industry).json["items"]
    assert [p["number"] for p in listed] == [3]


def test_civil_society_signature_is_kept_in_the_api(
    client: FlaskClient, make_user: Callable[..., User], make_document: Callable[..., Document]
) -> None:
    author = make_user("civil_society", name="Real Name")
    author.attribution, author.pseudonym = Attribution.PSEUDONYM, "Watcher"
    db.session.commit()
    review = make_document("review", "public", author=author, state_code="FR")
    seen = client.get(f"/api/v1/documents/{review.slug}").json
    assert seen["author"] == "Watcher" and "Real Name" not in str(seen)
    secretariat = bearer(make_user("secretariat"))
    assert (
        "Real Name"
        in client.get(f"/api/v1/documents/{review.slug}", headers=secretariat).json["author"]
    )
