"""Search through the API: the site's query syntax, facets, snippets, suggestions and pages."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from flask_babel import gettext as _

from portal.api import bp
from portal.api.auth import api_user
from portal.api.pagination import strict_integer
from portal.api.problems import ApiProblem
from portal.api.serializers import search_hit_json
from portal.errors import cleans_its_own_arguments
from portal.search.query import FACETS, MAX_PAGE, MAX_QUERY_LENGTH, SearchRequest
from portal.search.reading import UNAVAILABLE, SearchUnavailable, run_search

MAX_FACET_LENGTH = 40


def _checked_args() -> SearchRequest:
    """The search as asked, refusing what the site would silently tidy (clear 400s instead)."""
    args = request.args
    strict_integer(args, "page", 1, MAX_PAGE)
    if len(args.get("q", "")) > MAX_QUERY_LENGTH:
        raise ApiProblem(
            400, _("A search is at most %(n)s characters.", n=MAX_QUERY_LENGTH), kind="bad-query"
        )
    if args.get("sort", "relevance") not in ("relevance", "date"):
        raise ApiProblem(400, _("Sort by relevance or date."), kind="invalid-parameter")
    for name in FACETS:
        if len(args.get(name, "")) > MAX_FACET_LENGTH:
            raise ApiProblem(400, _("“%(name)s” is too long.", name=name), kind="invalid-parameter")
    return SearchRequest.from_args(args)


@bp.get("/search")
@cleans_its_own_arguments
def search_documents() -> Response:
    """Search documents the caller may read; a query that cannot be understood is a 422."""
    asked = _checked_args()
    try:
        outcome = run_search(api_user(), asked)
    except SearchUnavailable:
        raise ApiProblem(503, UNAVAILABLE, kind="search-unavailable") from None
    if outcome.problem:
        raise ApiProblem(422, outcome.problem, kind="bad-query")
    next_url = None
    if asked.page < min(outcome.pages, MAX_PAGE):
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page"}
        next_url = url_for("api.search_documents", _external=True, page=asked.page + 1, **args)
    return jsonify(
        {
            "query": asked.text,
            "sort": asked.sort,
            "page": asked.page,
            "pages": outcome.pages,
            "total": outcome.total,
            "notes": asked.notes,
            "suggestion": outcome.suggestion,
            "facets": {
                name: [{"value": v, "count": n} for v, n in outcome.facets.get(name, [])]
                for name in FACETS
            },
            "hits": [search_hit_json(hit) for hit in outcome.hits],
            "next": next_url,
        }
    )
