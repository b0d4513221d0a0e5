"""Serving feeds: conditional GET (ETag, Last-Modified, 304), caching headers, and each
worker's copies of the anonymous feeds, versioned by the data like the visitor pages."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request

from portal.data_version import data_version
from portal.feeds.atom import AtomDocument
from portal.kept_pages import KeptPage, KeptPages

ATOM_MIMETYPE = "application/atom+xml"


@dataclass(frozen=True)
class KeptFeed(KeptPage):
    """An anonymous feed kept by this worker, with its Last-Modified."""

    last_modified: dt.datetime | None = None


def kept_anonymous_feed(key: str, make: Callable[[], AtomDocument]) -> AtomDocument:
    """The anonymous feed for `key` (language and filters): this worker's copy while the data
    has not changed (and for at most VISITOR_PAGE_SECONDS), otherwise made anew and kept.

    Anonymous feeds carry public documents only, the same for every reader, so sharing
    them across readers reveals nothing.
    """
    max_age = current_app.config.get("VISITOR_PAGE_SECONDS", 30)
    feeds: KeptPages | None = current_app.extensions.get("kept_feeds")
    if feeds is None or max_age <= 0:
        return make()
    version = data_version()
    kept = feeds.get(key, version, max_age)
    if isinstance(kept, KeptFeed):
        return AtomDocument(kept.body, kept.last_modified, kept.etag)
    document = make()
    kept = KeptFeed(
        document.body, ATOM_MIMETYPE, document.etag, time.monotonic(), document.last_modified
    )
    feeds.put(key, version, kept)
    return document


def feed_response(document: AtomDocument, *, private: bool) -> Response:
    """The feed as a response that answers 304 to a reader who already has it.

    A private feed is never stored by a shared cache or indexed by a search engine.
    """
    response = Response(document.body, mimetype=ATOM_MIMETYPE)
    response.set_etag(document.etag)
    if document.last_modified is not None:
        response.last_modified = document.last_modified
    if private:
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    else:
        response.headers["Cache-Control"] = "no-cache"  # keep it, and revalidate
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    """Give this worker its store of anonymous feeds."""
    app.extensions["kept_feeds"] = KeptPages()
