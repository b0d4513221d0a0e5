"""One search as the site and the API run it: catch the index up briefly, then search."""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError
from whoosh.index import IndexError as IndexUnreadable
from whoosh.index import LockError

from portal.search import search_index
from portal.search.query import SearchOutcome, SearchRequest, search

log = logging.getLogger("portal.search")
#: A full or read-only index directory: searches still answer, from what the index has.
BEHIND_NOTE = _l(
    "Search results may be out of date: recent changes cannot be added to the search index "
    "right now. The rest of the portal is not affected."
)
UNAVAILABLE = _l(
    "Search is temporarily unavailable: its index cannot be read or rebuilt right now. "
    "Everything else on the portal works; you can browse documents by commitment or by state."
)
#: Never hold a reader up for long: a rebuild may hold the index lock for minutes.
CATCH_UP_SECONDS = 0.25


class SearchUnavailable(Exception):
    """The index can be neither read nor rebuilt right now (UNAVAILABLE says so)."""


def run_search(user: Any, asked: SearchRequest) -> SearchOutcome:
    """Apply pending changes if the index is behind (briefly), then search as `user`.

    An index that cannot catch up still answers, with BEHIND_NOTE among the notes; a database
    that is down raises OperationalError (the 503 page); an unreadable index raises
    SearchUnavailable.
    """
    index = search_index()
    if not asked.is_empty:
        try:
            if index.is_behind():
                index.catch_up(timeout=CATCH_UP_SECONDS)
        except OperationalError:
            raise
        except Exception:
            log.exception("could not catch the search index up; searching what it has")
            asked.notes.append(BEHIND_NOTE)
    try:
        return search(index.searcher(), user, asked)
    except (OSError, IndexUnreadable, LockError):
        log.exception("search index unavailable at %s", index.directory)
        raise SearchUnavailable from None
