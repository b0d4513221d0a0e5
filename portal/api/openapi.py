"""The OpenAPI 3.1 description of /api/v1/, served at /api/v1/openapi.json.

Written by hand as data beside the code it describes (schemas in openapi_schemas.py).
tests/test_api_spec.py checks that every route is described and every description has a
route; .ci/schemathesis.sh checks the live API against it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from portal.api import bp
from portal.api.openapi_schemas import SCHEMAS, ref
from portal.api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from portal.models import DocumentType
from portal.search.query import MAX_PAGE, MAX_QUERY_LENGTH

JSON = "application/json"
PROBLEM = "application/problem+json"
READ_SECURITY: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]
WRITE_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]

ERRORS = {
    400: "Bad request: a parameter, body or If-Match that does not match this description.",
    401: "The token is missing (writes), unknown, expired or revoked, or its account is "
    "deactivated.",
    403: "The token's scope or its owner's account does not allow this.",
    404: "Nothing here, or nothing the caller may read (the two are not told apart).",
    409: "The change does not suit the document's status (e.g. restoring a published one).",
    412: "If-Match names a version that is no longer current.",
    413: "The body is too large.",
    415: "The body is not application/json.",
    422: "Well-formed but not usable: fields that are not valid (`errors` lists them), a "
    "cursor this API did not make, a search query that cannot be understood.",
    428: "If-Match is required.",
    429: "Too many calls with this token (or from this address); see Retry-After.",
    503: "The database or the search index cannot be reached; try again later.",
}
HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"required": False, "schema": {"type": "string"}}},
}
READ_ERRORS = (400, 401, 429, 503)
#: Reads that take a cursor or a query this API must understand.
PARSING_ERRORS = (*READ_ERRORS, 422)
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
ETAG = {
    "ETag": {
        "required": True,
        "schema": {"type": "string"},
        "description": "The document's current version, for If-Match.",
    }
}


def _error(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERRORS[status],
        "content": {PROBLEM: {"schema": ref("Problem")}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def _ok(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


def operation(
    summary: str,
    success: dict[int, dict[str, Any]],
    errors: tuple[int, ...] = READ_ERRORS,
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    write: bool = False,
) -> dict[str, Any]:
    """One operation with its responses, every error as problem+json."""
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": summary,
        "security": WRITE_SECURITY if write else READ_SECURITY,
        "responses": {str(k): v for k, v in success.items()}
        | {str(k): _error(k) for k in sorted(errors)},
    }
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    return op


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema}


SLUG = path("slug", {"type": "string", "minLength": 1, "maxLength": 120})
NUMBER = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
TYPE = {"type": "string", "enum": [t.value for t in DocumentType]}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "description": 'The ETag of the version the change starts from, e.g. "12.3"; * for any.',
}
IF_MATCH_SCHEMA = {"type": "string", "pattern": r'^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$'}
DOCUMENT_FILTERS = [
    query("type", TYPE, "Only documents of this type."),
    query("state", {"type": "string", "pattern": "^[A-Za-z]{2}$"}, "Only this state's."),
    query("commitment", {"type": "integer", "minimum": 1, "maximum": 6}, "Only on this one."),
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "Items per page.",
    ),
    query("cursor", {"type": "string", "maxLength": 200}, "From the previous page's `next`."),
]
SEARCH_PARAMETERS = [
    query(
        "q",
        {"type": "string", "maxLength": MAX_QUERY_LENGTH},
        'Words, "phrases", OR, '
        "NOT or -word, and field:value (type:, state:, commitment:, year:, title:).",
    ),
    query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page of 10 hits."),
    query("sort", {"type": "string", "enum": ["relevance", "date"]}, "Order of hits."),
    *(
        query(f, {"type": "string", "maxLength": 40}, f"Narrow to this {f} (a facet value).")
        for f in ("type", "state", "commitments", "year")
    ),
]
MATRIX_PARAMETERS = [
    query("type", TYPE, "Count only documents of this type."),
    query("year", {"type": "integer", "minimum": 1900, "maximum": 9998}, "Published this year."),
    query("sort", {"type": "string", "enum": ["state", "total"]}, "Order of the rows."),
]


def _body(schema: str, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": ref(schema)}}}


def _linked(response: dict[str, Any], slug: str) -> dict[str, Any]:
    """`response` with links from the slug it returns to the operations on that document."""
    targets = ("getDocument", "listRevisions", "updateDocument", "withdrawDocument")
    links = {name: {"operationId": name, "parameters": {"slug": slug}} for name in targets}
    return {**response, "links": links}


CREATED_HEADERS = {
    **ETAG,
    "Location": {"required": True, "schema": {"type": "string", "format": "uri"}},
}
DOCUMENT_OK = _ok("Document", "The document as it now stands.", ETAG)
PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": operation(
            "getOpenApi",
            {
                200: {
                    "description": "This description.",
                    "content": {JSON: {"schema": {"type": "object"}}},
                }
            },
        )
    },
    "/documents": {
        "get": operation(
            "listDocuments",
            {
                200: _linked(
                    _ok("DocumentPage", "Documents the caller may read, newest first."),
                    "$response.body#/items/0/slug",
                )
            },
            PARSING_ERRORS,
            parameters=DOCUMENT_FILTERS,
        ),
        "post": operation(
            "createDocument",
            {201: _linked(_ok("Document", "Created.", CREATED_HEADERS), "$response.body#/slug")},
            WRITE_ERRORS,
            body=_body("NewDocument"),
            write=True,
        ),
    },
    "/documents/{slug}": {
        "get": operation("getDocument", {200: DOCUMENT_OK}, (*READ_ERRORS, 404), parameters=[SLUG]),
        "patch": operation(
            "updateDocument",
            {200: DOCUMENT_OK},
            (*WRITE_ERRORS, 412, 428),
            parameters=[SLUG, {**IF_MATCH, "required": True, "schema": IF_MATCH_SCHEMA}],
            body=_body("DocumentChange"),
            write=True,
        ),
    },
    "/documents/{slug}/revisions": {
        "get": operation(
            "listRevisions",
            {200: _ok("RevisionList", "Every revision, newest first.")},
            (*READ_ERRORS, 404),
            parameters=[SLUG],
        )
    },
    "/documents/{slug}/revisions/{number}": {
        "get": operation(
            "getRevision",
            {200: _ok("Revision", "One revision as it read then.")},
            (*READ_ERRORS, 404),
            parameters=[SLUG, path("number", NUMBER)],
        )
    },
    "/commitments": {
        "get": operation("listCommitments", {200: _ok("CommitmentList", "The six commitments.")})
    },
    "/states": {"get": operation("listStates", {200: _ok("StateList", "Subscribing states.")})},
    "/plenaries": {
        "get": operation("listPlenaries", {200: _ok("PlenaryList", "Readable plenaries.")})
    },
    "/plenaries/{number}": {
        "get": operation(
            "getPlenary",
            {200: _ok("Plenary", "The plenary's record.")},
            (*READ_ERRORS, 404),
            parameters=[path("number", NUMBER)],
        )
    },
    "/matrix": {
        "get": operation(
            "getMatrix",
            {200: _ok("Matrix", "States x commitments.")},
            parameters=MATRIX_PARAMETERS,
        )
    },
    "/search": {
        "get": operation(
            "searchDocuments",
            {200: _ok("SearchResults", "Hits the caller may read, facets, suggestion.")},
            PARSING_ERRORS,
            parameters=SEARCH_PARAMETERS,
        )
    },
}
for _action, _summary in (("withdraw", "withdrawDocument"), ("restore", "restoreDocument")):
    PATHS[f"/documents/{{slug}}/{_action}"] = {
        "post": operation(
            _summary,
            {200: DOCUMENT_OK},
            (*WRITE_ERRORS, 412),
            parameters=[SLUG, {**IF_MATCH, "required": False, "schema": IF_MATCH_SCHEMA}],
            body=_body("StatusChange", required=False),
            write=True,
        )
    }

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "ECHRI Practice Portal API",
        "version": "1.0.0",
        "description": "Documents, revisions, commitments, states, plenaries, the matrix and "
        "search, exactly as the caller may see them on the site. Anonymous calls see what "
        "visitors see; `Authorization: Bearer <token>` acts as the token's owner. Errors are "
        "application/problem+json (RFC 9457).",
    },
    "servers": [{"url": "/api/v1"}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal access token made on the account page.",
            }
        },
    },
}


@bp.get("/openapi.json")
def openapi_spec() -> Response:
    """This API's OpenAPI 3.1 description."""
    return jsonify(SPEC)
