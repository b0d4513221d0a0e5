"""The search page."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from portal.errors import cleans_its_own_arguments
from portal.extensions import db
from portal.models import Commitment, DocumentType, State
from portal.search import search_index
from portal.search.query import SearchRequest, search

bp = Blueprint("search", __name__)
log = logging.getLogger("portal.search")


@bp.get("/search")
@cleans_its_own_arguments
def page() -> ResponseReturnValue:
    """Search documents the user may read, with facets, snippets and suggestions."""
    search_request = SearchRequest.from_args(request.args)
    index = search_index()
    if not search_request.is_empty:
        try:
            if index.is_behind():
                # Never hold a reader up for long: a rebuild may hold the lock for minutes.
                index.catch_up(timeout=0.25)
        except Exception:
            log.exception("could not catch the search index up; searching what it has")
    outcome = search(index.searcher(), current_user, search_request)
    labels = {
        "type": {t.value: t.label for t in DocumentType},
        "state": {s.code.lower(): s.name for s in db.session.scalars(select(State))},
        "commitments": {
            str(c.number): f"{c.number}. {c.title}" for c in db.session.scalars(select(Commitment))
        },
    }
    return render_template(
        "search/page.html", search=search_request, outcome=outcome, labels=labels
    )
