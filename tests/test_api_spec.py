"""The OpenAPI description matches the routes and the answers; every error is problem+json."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.api.openapi import SPEC
from portal.models import Document, User
from tests.test_api_access import bearer
from tests.test_plenaries import circulated

IMPLICIT = {"HEAD", "OPTIONS"}


def routes(app: Flask) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route under /api/v1."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        found |= {(method, path) for method in rule.methods - IMPLICIT}
    return found


def test_every_route_is_described_and_every_description_has_a_route(app: Flask) -> None:
    described = {(method.upper(), path) for path, item in SPEC["paths"].items() for method in item}
    assert routes(app) == described


def test_the_spec_is_served_and_every_operation_describes_its_errors(client: FlaskClient) -> None:
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.json["openapi"].startswith("3.1")
    for path, item in served.json["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"400", "401", "429"} <= set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]


def conforms(body: Any, schema_name: str) -> None:
    """Validate `body` against a schema of the spec (JSON Schema 2020-12, formats checked)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema_rs.Draft202012Validator(schema, validate_formats=True).validate(body)


def test_answers_match_their_schemas(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_document: Callable[..., Document],
) -> None:
    secretariat = make_user("secretariat")
    review = make_document("review", "participants", state_code="DE", commitment_numbers=(2,))
    circulated(secretariat, number=4)
    token = bearer(secretariat)
    for url, schema in [
        ("/api/v1/documents", "DocumentPage"),
        (f"/api/v1/documents/{review.slug}", "Document"),
        (f"/api/v1/documents/{review.slug}/revisions", "RevisionList"),
        (f"/api/v1/documents/{review.slug}/revisions/1", "Revision"),
        ("/api/v1/commitments", "CommitmentList"),
        ("/api/v1/states", "StateList"),
        ("/api/v1/plenaries", "PlenaryList"),
        ("/api/v1/plenaries/4", "Plenary"),
        ("/api/v1/matrix?sort=total", "Matrix"),
        ("/api/v1/search?q=markdown", "SearchResults"),
        ("/api/v1/documents/nothing", "Problem"),
    ]:
        response = client.get(url, headers=token)
        conforms(response.json, schema)
    assert client.get("/api/v1/plenaries/4", headers=token).json["minutes"]["current"]


@pytest.mark.parametrize(
    ("url", "method", "status"),
    [
        ("/api/v1/no-such-thing", "get", 404),
        ("/api/v1/documents", "delete", 405),
        ("/api/v1/documents?cursor=bm90IGEgY3Vyc29y", "get", 422),
        ("/api/v1/documents?limit=0", "get", 400),
        ("/api/v1/documents?limit=ten", "get", 400),
        ("/api/v1/documents?type=memo", "get", 400),
        ("/api/v1/documents?state=France", "get", 400),
        ("/api/v1/documents?commitment=7", "get", 400),
        ("/api/v1/documents?type=%00", "get", 400),
        ("/api/v1/search?q=%22unclosed", "get", 200),
        ("/api/v1/search?q=id:5", "get", 422),
        ("/api/v1/search?q=(((", "get", 422),
        ("/api/v1/search?page=0", "get", 400),
        ("/api/v1/search?sort=alphabet", "get", 400),
        ("/api/v1/documents/x/revisions/0", "get", 404),
        ("/api/v1/plenaries/99999999999", "get", 404),
    ],
)
def test_bad_requests_get_problem_json_never_html(
    client: FlaskClient, url: str, method: str, status: int
) -> None:
    response = getattr(client, method)(url)
    assert response.status_code == status
    if status >= 400:
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == status and response.json["detail"]
    if status == 405:
        assert "GET" in response.headers["Allow"]


def test_list_pages_follow_opaque_cursors_without_repeats(
    client: FlaskClient, make_document: Callable[..., Document]
) -> None:
    made = {make_document(title=f"Note {n}").slug for n in range(5)}
    undated = make_document(status="draft", title="Undated")  # visible to nobody anonymous
    first = client.get("/api/v1/documents?limit=2").json
    assert len(first["items"]) == 2 and "cursor=" in first["next"]
    seen, url = [], "/api/v1/documents?limit=2"
    while url:
        page = client.get(url).json
        seen += [item["slug"] for item in page["items"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5 and set(seen) == made
    assert undated.slug not in seen


@pytest.mark.throttled
def test_api_calls_are_rate_limited_per_token(
    app: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    app.config["API_RATE_LIMIT"] = "3 per minute"
    token = bearer(make_user("industry"))
    statuses = [client.get("/api/v1/states", headers=token).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = client.get("/api/v1/states", headers=token)
    assert throttled.mimetype == "application/problem+json"
    assert throttled.headers["Retry-After"]
    other = bearer(make_user("industry"))
    assert client.get("/api/v1/states", headers=other).status_code == 200, "per token"


@pytest.mark.throttled
def test_spelling_the_header_differently_does_not_reset_a_tokens_limit(
    app: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    app.config["API_RATE_LIMIT"] = "3 per minute"
    secret = bearer(make_user("industry"))["Authorization"].removeprefix("Bearer ")
    spellings = [f"Bearer {secret}", f"bearer {secret}", f"BEARER {secret}", f"Bearer  {secret}"]
    statuses = [
        client.get("/api/v1/states", headers={"Authorization": spelling}).status_code
        for spelling in spellings
    ]
    assert statuses == [200, 200, 200, 429], "the same token, however its header is spelled"
