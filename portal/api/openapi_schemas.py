"""The schemas of the OpenAPI description (components.schemas): what the API returns and
accepts, kept in step with portal/api/serializers.py and payloads.py.

Objects are closed (`additionalProperties: false`) so a field added to a serializer and not
here fails the schema checks; null is spelled as a type array (OpenAPI 3.1).
"""

from __future__ import annotations

from typing import Any

from portal.documents.forms import MAX_SOURCE_LENGTH
from portal.models import (
    ActionStatus,
    AdoptionMethod,
    Assessment,
    DocumentStatus,
    DocumentType,
    MinutesStatus,
    Visibility,
)
from portal.models.plenaries import MinutesRevisionKind
from portal.search.query import FACETS


def _values(enum: Any) -> list[str]:
    return [e.value for e in enum]


def ref(name: str) -> dict[str, str]:
    """A reference to a schema in components."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null (OpenAPI 3.1: a type array, or anyOf for references and enums)."""
    if "enum" in schema:
        return {
            **schema,
            "type": [schema.get("type", "string"), "null"],
            "enum": [*schema["enum"], None],
        }
    if "type" in schema and isinstance(schema["type"], str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object: exactly these properties (all required unless named otherwise)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


STRING = {"type": "string"}
DATE = {"type": "string", "format": "date"}
MOMENT = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}
MARKUP = obj({"markdown": STRING, "html": STRING})
STATE_CODE = {"type": "string", "pattern": "^[A-Z]{2}$"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": STRING,
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": STRING,
            "errors": {
                "type": "array",
                "items": obj({"field": STRING, "message": STRING}),
            },
        },
        "required": ["type", "title", "status", "detail"],
    },
    "StateRef": obj({"code": STATE_CODE, "name": STRING}),
    "DocumentSummary": obj(
        {
            "slug": STRING,
            "url": URL,
            "html_url": URL,
            "type": {"type": "string", "enum": _values(DocumentType)},
            "title": STRING,
            "state": nullable(ref("StateRef")),
            "organisation": nullable(STRING),
            "commitments": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "visibility": {"type": "string", "enum": _values(Visibility)},
            "status": {"type": "string", "enum": _values(DocumentStatus)},
            "published_on": nullable(DATE),
            "updated_at": nullable(MOMENT),
            "lang": STRING,
            "assessment": nullable({"type": "string", "enum": _values(Assessment)}),
            "responds_to": nullable(STRING),
            "author": STRING,
            "version": {"type": "integer", "minimum": 1},
        }
    ),
    "RevisionSummary": obj(
        {
            "number": {"type": "integer", "minimum": 1},
            "url": URL,
            "title": STRING,
            "summary": STRING,
            "author": STRING,
            "created_at": nullable(MOMENT),
        }
    ),
    "DocumentPage": obj(
        {
            "items": {"type": "array", "items": ref("DocumentSummary")},
            "next": nullable(URL),
        }
    ),
    "RevisionList": obj({"items": {"type": "array", "items": ref("RevisionSummary")}}),
    "NewDocument": {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "title", "source", "visibility"],
        "properties": {
            "type": {"type": "string", "enum": _values(DocumentType)},
            "title": {"type": "string", "minLength": 1, "maxLength": 300, "pattern": "\\S"},
            "source": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_SOURCE_LENGTH,
                "pattern": "\\S",
                "description": "The text, in Markdown.",
            },
            "visibility": {"type": "string", "enum": _values(Visibility)},
            "status": {"type": "string", "enum": ["draft", "published"], "default": "draft"},
            "state": nullable({"type": "string", "pattern": "^[A-Za-z]{2}$"}),
            "organisation": nullable({"type": "string", "maxLength": 200}),
            "commitments": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 6},
                "uniqueItems": True,
            },
            "assessment": nullable({"type": "string", "enum": _values(Assessment)}),
            "responds_to": nullable({"type": "string", "maxLength": 120}),
            "summary": {"type": "string", "maxLength": 300},
        },
    },
    "StatusChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 300}},
    },
    "Commitment": obj(
        {
            "number": {"type": "integer"},
            "title": STRING,
            "text": STRING,
            "documents": {"type": "integer", "minimum": 0},
        }
    ),
    "State": obj(
        {
            "code": STATE_CODE,
            "name": STRING,
            "joined_on": nullable(DATE),
            "documents": {"type": "integer", "minimum": 0},
        }
    ),
    "PlenarySummary": obj(
        {
            "number": {"type": "integer", "minimum": 1},
            "url": URL,
            "title": STRING,
            "place": STRING,
            "starts_on": DATE,
            "ends_on": DATE,
            "host_state": nullable(STATE_CODE),
            "participants": {"type": "array", "items": STATE_CODE},
            "visibility": {"type": "string", "enum": _values(Visibility)},
            "minutes_status": {"type": "string", "enum": _values(MinutesStatus)},
        }
    ),
    "ActionItem": obj(
        {
            "id": {"type": "integer"},
            "text": STRING,
            "owners": {
                "type": "array",
                "items": STATE_CODE,
                "description": "States that owe it; empty: the secretariat.",
            },
            "due_on": nullable(DATE),
            "status": {"type": "string", "enum": _values(ActionStatus)},
            "overdue": {"type": "boolean"},
        }
    ),
    "Matrix": obj(
        {
            "filters": obj(
                {
                    "type": nullable({"type": "string", "enum": _values(DocumentType)}),
                    "year": nullable({"type": "integer"}),
                    "sort": {"type": "string", "enum": ["state", "total"]},
                }
            ),
            "stale_months": {"type": "integer"},
            "stale_before": DATE,
            "years": {"type": "array", "items": {"type": "integer"}},
            "commitments": {
                "type": "array",
                "items": obj({"number": {"type": "integer"}, "title": STRING}),
            },
            "rows": {
                "type": "array",
                "items": obj(
                    {
                        "state": ref("StateRef"),
                        "total": {"type": "integer", "minimum": 0},
                        "cells": {"type": "array", "items": ref("MatrixCell")},
                    }
                ),
            },
        }
    ),
    "MatrixCell": obj(
        {
            "commitment": {"type": "integer"},
            "total": {"type": "integer", "minimum": 0},
            "counts": {
                "type": "object",
                "propertyNames": {"enum": _values(DocumentType)},
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "latest": nullable(DATE),
            "stale": {"type": "boolean"},
            "self_assessment": nullable({"type": "string", "enum": _values(Assessment)}),
            "self_assessment_on": nullable(DATE),
            "self_assessment_stale": {"type": "boolean"},
            "review": nullable({"type": "string", "enum": _values(Assessment)}),
            "review_on": nullable(DATE),
            "review_stale": {"type": "boolean"},
        }
    ),
    "SearchResults": obj(
        {
            "query": STRING,
            "sort": {"type": "string", "enum": ["relevance", "date"]},
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
            "notes": {"type": "array", "items": STRING},
            "suggestion": nullable(STRING),
            "facets": obj(
                {
                    name: {
                        "type": "array",
                        "items": obj({"value": STRING, "count": {"type": "integer"}}),
                    }
                    for name in FACETS
                }
            ),
            "hits": {"type": "array", "items": ref("SearchHit")},
            "next": nullable(URL),
        }
    ),
    "SearchHit": obj(
        {
            "slug": STRING,
            "url": URL,
            "title": STRING,
            "type": STRING,
            "state": nullable(STRING),
            "published_on": nullable(DATE),
            "visibility": STRING,
            "status": STRING,
            "snippet": {"type": "string", "description": "HTML; matches are in <mark>."},
            "attachment": nullable(STRING),
        }
    ),
}


def _extended(base: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A closed object with the properties of SCHEMAS[base] and more."""
    return obj({**SCHEMAS[base]["properties"], **properties})


MINUTES_REVISION = obj(
    {
        "number": {"type": "integer", "minimum": 1},
        "kind": {"type": "string", "enum": _values(MinutesRevisionKind)},
        "markdown": STRING,
        "html": STRING,
        "reason": STRING,
        "created_at": nullable(MOMENT),
    }
)
SCHEMAS["Revision"] = _extended("RevisionSummary", {"markdown": STRING, "html": STRING})
SCHEMAS["Document"] = _extended(
    "DocumentSummary",
    {
        "etag": {"type": "string", "description": "The same value as the ETag header."},
        "revision": nullable(ref("Revision")),
    },
)
SCHEMAS["Plenary"] = _extended(
    "PlenarySummary",
    {
        "agenda": MARKUP,
        "decisions": MARKUP,
        "minutes": obj(
            {
                "status": {"type": "string", "enum": _values(MinutesStatus)},
                "circulated_at": nullable(MOMENT),
                "comment_deadline": nullable(MOMENT),
                "adopted_at": nullable(MOMENT),
                "adoption_method": nullable({"type": "string", "enum": _values(AdoptionMethod)}),
                "current": {
                    "description": "Adopted minutes for every reader of the plenary; unadopted "
                    "ones only for those who may read drafts (otherwise null).",
                    **nullable(MINUTES_REVISION),
                },
            }
        ),
        "action_items": {"type": "array", "items": ref("ActionItem")},
    },
)
SCHEMAS["DocumentChange"] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Fields to change; those left out keep their values.",
    "properties": {k: v for k, v in SCHEMAS["NewDocument"]["properties"].items() if k != "type"},
}
for _name, _item in (
    ("CommitmentList", "Commitment"),
    ("StateList", "State"),
    ("PlenaryList", "PlenarySummary"),
):
    SCHEMAS[_name] = obj({"items": {"type": "array", "items": ref(_item)}})
