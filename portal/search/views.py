"""The search page."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

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
    labels = {
        "type": {t.value: t.label for t in DocumentType},
        "state": {s.code.lower(): s.name for s in db.session.scalars(select(State))},
        "commitments": {
            str(c.number): f"{c.number}. {c.title}" for c in db.session.scalars(select(Commitment))
        },
    }
    return render_template(
        "search/page.html", search=search_request, outcome=outcome, labels=labels
    ), status
