"""The search page."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from whoosh.index import IndexError as IndexUnreadable
from whoosh.index import LockError

from portal.errors import cleans_its_own_arguments
from portal.extensions import db
from portal.models import Commitment, DocumentType, State
from portal.search import search_index
from portal.search.query import SearchOutcome, SearchRequest, search

bp = Blueprint("search", __name__)
log = logging.getLogger("portal.search")
#: A full or read-only index directory: searches still answer, from what the index has.
BEHIND_NOTE = (
    "Search results may be out of date: recent changes cannot be added to the search index "
    "right now. The rest of the portal is not affected."
)
UNAVAILABLE = (
    "Search is temporarily unavailable: its index cannot be read or rebuilt right now. "
    "Everything else on the portal works; you can browse documents by commitment or by state."
)


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
        except OperationalError:
            raise  # the database is down: the 503 page says so
        except Exception:
            log.exception("could not catch the search index up; searching what it has")
            search_request.notes.append(BEHIND_NOTE)
    status = 200
    try:
        outcome = search(index.searcher(), current_user, search_request)
    except (OSError, IndexUnreadable, LockError):
        log.exception("search index unavailable at %s", index.directory)
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
