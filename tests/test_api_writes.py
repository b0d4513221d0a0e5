"""Writing through the API: the site's services, ETags and If-Match, clear 4xx problems."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Document, DocumentStatus, Revision, User
from tests.test_api_access import bearer

NOTE = {
    "type": "implementation_note",
    "title": "Brokering controls through the API",
    "source": "Our licensing officers check **brokering** of cyber-surveillance items.",
    "visibility": "public",
    "state": "FR",
    "commitments": [1, 4],
    "status": "published",
}


@pytest.fixture
def france(make_user: Callable[..., User]) -> tuple[User, dict[str, str]]:
    """A French government user with two-factor sign-in and a read-write token."""
    user = make_user("government", "FR")
    return user, bearer(user, "read write")


def test_a_script_publishes_a_note_and_finds_it_by_search(
    client: FlaskClient, france: tuple[User, dict[str, str]]
) -> None:
    user, token = france
    created = client.post("/api/v1/documents", json=NOTE, headers=token)
    assert created.status_code == 201, created.json
    slug = created.json["slug"]
    assert created.headers["Location"].endswith(f"/api/v1/documents/{slug}")
    assert created.headers["ETag"] == created.json["etag"]
    assert created.json["revision"]["html"].startswith("<p>Our licensing officers check <strong>")
    found = client.get("/api/v1/search?q=brokering", headers=token).json
    assert [hit["slug"] for hit in found["hits"]] == [slug]
    assert "<mark>brokering</mark>" in found["hits"][0]["snippet"]
    assert client.get(f"/documents/{slug}").status_code == 200, "on the site for visitors"
    document = db.session.scalars(select(Document).where(Document.slug == slug)).one()
    assert document.author_id == user.id and [c.number for c in document.commitments] == [1, 4]
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id))
    assert "document.create" in list(actions)


def test_update_needs_the_current_etag(
    client: FlaskClient, france: tuple[User, dict[str, str]]
) -> None:
    _, token = france
    created = client.post("/api/v1/documents", json=NOTE, headers=token)
    url, etag = created.headers["Location"], created.headers["ETag"]
    missing = client.patch(url, json={"title": "New title"}, headers=token)
    assert missing.status_code == 428 and missing.mimetype == "application/problem+json"
    malformed = client.patch(url, json={"title": "New"}, headers={**token, "If-Match": "v1"})
    assert malformed.status_code == 400
    edited = client.patch(url, json={"source": "Edited text."}, headers={**token, "If-Match": etag})
    assert edited.status_code == 200
    assert edited.headers["ETag"] != etag
    assert edited.json["revision"]["number"] == 2 and edited.json["title"] == NOTE["title"]
    stale = client.patch(url, json={"source": "Lost?"}, headers={**token, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.json["type"] == "urn:echri:problem:stale-etag"
    revisions = client.get(f"{url}/revisions", headers=token).json["items"]
    assert [r["number"] for r in revisions] == [2, 1]
    assert db.session.scalar(select(Revision.source).where(Revision.number == 2)) == "Edited text."


def test_draft_is_published_then_withdrawn_and_restored(
    client: FlaskClient, france: tuple[User, dict[str, str]]
) -> None:
    _, token = france
    draft = client.post("/api/v1/documents", json={**NOTE, "status": "draft"}, headers=token)
    url = draft.headers["Location"]
    assert client.get(url).status_code == 404, "a draft is not for visitors"
    published = client.patch(
        url, json={"status": "published"}, headers={**token, "If-Match": draft.headers["ETag"]}
    )
    assert published.status_code == 200 and published.json["published_on"]
    assert client.get(url).status_code == 200
    withdrawn = client.post(f"{url}/withdraw", json={"reason": "Superseded"}, headers=token)
    assert withdrawn.json["status"] == DocumentStatus.WITHDRAWN.value
    assert client.get(url).status_code == 404
    again = client.patch(
        url, json={"status": "published"}, headers={**token, "If-Match": withdrawn.headers["ETag"]}
    )
    assert again.status_code == 409
    twice = client.post(f"{url}/withdraw", headers=token)
    assert twice.status_code == 409
    restored = client.post(f"{url}/restore", headers=token)
    assert restored.status_code == 200 and restored.json["status"] == "published"


def test_writes_stay_within_the_writers_reach(
    client: FlaskClient,
    france: tuple[User, dict[str, str]],
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
) -> None:
    _, token = france
    other_state = client.post("/api/v1/documents", json={**NOTE, "state": "DE"}, headers=token)
    assert other_state.status_code == 403
    german = make_document("implementation_note", "public", state_code="DE")
    edit = client.patch(
        f"/api/v1/documents/{german.slug}",
        json={"title": "Mine now"},
        headers={**token, "If-Match": f'"{german.id}.{german.version}"'},
    )
    assert edit.status_code == 403
    industry = bearer(make_user("industry"), "read write")
    assert client.post("/api/v1/documents", json=NOTE, headers=industry).status_code == 403
    mine = client.post("/api/v1/documents", json=NOTE, headers=token).headers["Location"]
    moved = client.patch(mine, json={"state": "DE"}, headers={**token, "If-Match": "*"})
    assert moved.status_code == 403, "nobody moves a document out of their reach"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        ("{not json", "application/json", 400, None),
        ("[1, 2]", "application/json", 400, None),
        ("[" * 100_000, "application/json", 400, None),  # nested deeper than any parser goes
        ("title=x", "application/x-www-form-urlencoded", 415, None),
        ({**NOTE, "title": "   "}, None, 422, "title"),
        ({**NOTE, "title": "x" * 301}, None, 422, "title"),
        ({**NOTE, "colour": "blue"}, None, 422, "colour"),
        ({k: v for k, v in NOTE.items() if k != "source"}, None, 422, "source"),
        ({**NOTE, "state": "QQ"}, None, 422, "state"),
        ({**NOTE, "commitments": [0, 9]}, None, 422, "commitments"),
        ({**NOTE, "visibility": "secret"}, None, 422, "visibility"),
        ({**NOTE, "source": "nul \x00 here"}, None, 422, "source"),
        ({**NOTE, "status": "withdrawn"}, None, 422, "status"),
        ({**NOTE, "state": None}, None, 422, "state"),
        ({**NOTE, "type": ["implementation_note"]}, None, 422, "type"),
        ({**NOTE, "commitments": "1"}, None, 422, "commitments"),
    ],
)
def test_bad_bodies_get_a_problem_naming_the_field(
    client: FlaskClient,
    france: tuple[User, dict[str, str]],
    body: object,
    content_type: str | None,
    status: int,
    field: str | None,
) -> None:
    _, token = france
    if content_type is None:
        response = client.post("/api/v1/documents", json=body, headers=token)
    else:
        response = client.post(
            "/api/v1/documents", data=body, content_type=content_type, headers=token
        )
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= set(response.json)
    if field is not None:
        assert field in [error["field"] for error in response.json["errors"]]
    assert db.session.scalar(select(Document.id)) is None
