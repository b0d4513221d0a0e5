"""The search page."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from portal.data_version import kept_for_version
from portal.errors import cleans_its_own_arguments
from portal.extensions import db
from portal.models import Commitment, DocumentType, State
from portal.search.query import SearchOutcome, SearchRequest
from portal.search.reading import UNAVAILABLE, SearchUnavailable, run_search

bp = Blueprint("search", __name__)


@bp.get("/search")
@cleans_its_own_arguments
def page() -> ResponseReturnValue:
    """Search documents the user may read, with facets, snippets and suggestions."""
    search_request = SearchRequest.from_args(request.args)
    status = 200
    try:
        outcome = run_search(current_user, search_request)
    except SearchUnavailable:
        outcome, status = SearchOutcome(problem=UNAVAILABLE), 503
    return render_template(
        "search/page.html",
        search=search_request,
        outcome=outcome,
        labels={
            "type": {t.value: t.label for t in DocumentType},  # in the reader's language
            **kept_for_version("search_facet_names", facet_names),
        },
        narrowing=narrowing_links(search_request, outcome),
    ), status


def facet_names() -> dict[str, Mapping[str, str]]:
    """What the states and commitments among the facets' values are called (read-only: every
    request of the worker is given the same)."""
    return {
        "state": MappingProxyType(
            {code.lower(): name for code, name in db.session.execute(_STATE_NAMES)}
        ),
        "commitments": MappingProxyType(
            {str(n): f"{n}. {title}" for n, title in db.session.execute(_COMMITMENTS)}
        ),
    }


_STATE_NAMES = select(State.code, State.name)
_COMMITMENTS = select(Commitment.number, Commitment.title)
#: What Werkzeug leaves unquoted in query strings (so links read as url_for writes them).
_QUERY_SAFE = "!$'()*,/:;?@"


def narrowing_links(
    asked: SearchRequest, outcome: SearchOutcome
) -> dict[str, list[tuple[str, int, str]]]:
    """Each facet's values with their counts and the links narrowing the search to them.

    The links are what url_for('search.page', q=..., sort=..., **narrowed) writes, with
    the route built once instead of once per value (a page offers dozens).
    """
    route = url_for("search.page")
    kept = {"q": asked.text or None, "sort": asked.sort_argument}
    return {
        name: [
            (value, count, f"{route}?{_query({**kept, **asked.narrow, name: value})}")
            for value, count in values
        ]
        for name, values in outcome.facets.items()
    }


def _query(arguments: dict[str, str | None]) -> str:
    return urlencode([(k, v) for k, v in arguments.items() if v is not None], safe=_QUERY_SAFE)
