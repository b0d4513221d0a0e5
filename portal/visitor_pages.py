"""Pages for visitors, kept in memory by each worker and revalidated with ETags.

A visitor (no session cookie, so not signed in) sees the same public page as every other
visitor, so each worker keeps the rendered response of a few read-only pages, keyed by URL.
Every change made through the services appends an audit event, so the audit trail's length
(`data_version`) versions the pages: a change on any worker or node makes them all stale.
Changes made outside the services (states and commitments from `flask content load`, the
date a matrix cell turns stale) show within VISITOR_PAGE_SECONDS. Only a 200 HTML response
that left the session untouched is kept, so nothing personal is ever shared; search is never
kept (every query would be its own page).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, Response, current_app, request, session
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from portal.data_version import data_version

#: Read-only pages whose visitor version is the same for every visitor.
KEPT_ENDPOINTS = frozenset(
    {
        "home.index",
        "documents.index",
        "documents.show",
        "commitments.index",
        "commitments.show",
        "commitments.matrix",
        "states.index",
        "states.show",
    }
)
MAX_PAGES = 512
MAX_PAGE_BYTES = 512 * 1024
#: What one store may hold in all, per worker (a few hundred typical pages).
MAX_BYTES = 32 * 1024 * 1024
#: Where a request that may be kept records its page key and data version.
_MARK = "portal.visitor_page"


@dataclass(frozen=True)
class KeptPage:
    """A rendered page and when it was made."""

    body: bytes
    mimetype: str
    etag: str
    made: float


class KeptPages:
    """This worker's kept pages for one version of the data (LRU, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: OrderedDict[str, KeptPage] = OrderedDict()
        self._bytes = 0
        self._version: int | None = None

    def get(self, url: str, version: int, max_age: float) -> KeptPage | None:
        """The page kept for `url` at `version`, if younger than `max_age` seconds."""
        with self._lock:
            if version != self._version:
                self._pages.clear()
                self._bytes = 0
                self._version = version
                return None
            page = self._pages.get(url)
            if page is None or time.monotonic() - page.made > max_age:
                return None
            self._pages.move_to_end(url)
            return page

    def put(self, url: str, version: int, page: KeptPage) -> None:
        """Keep `page` for `url` if the data is still at `version`."""
        with self._lock:
            if version != self._version:
                return
            replaced = self._pages.pop(url, None)
            self._bytes += len(page.body) - (len(replaced.body) if replaced else 0)
            self._pages[url] = page
            while len(self._pages) > MAX_PAGES or self._bytes > MAX_BYTES:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)


def _is_visitor_request(app: Flask) -> bool:
    """A GET of a kept endpoint by someone with no session, remember cookie or credentials."""
    return (
        request.method in ("GET", "HEAD")
        and request.endpoint in KEPT_ENDPOINTS
        and app.config["SESSION_COOKIE_NAME"] not in request.cookies
        and app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in request.cookies
        and "Authorization" not in request.headers
    )


def page_key(locale: str | None = None) -> str:
    """Pages differ by host, path and query, and by interface language (`locale`, or the
    request's). Cheaper than `request.url`, which re-encodes the whole URL."""
    return f"{locale or get_locale()} {request.host}{request.full_path}"


def _serve_kept_page() -> ResponseReturnValue | None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not _is_visitor_request(app):
        return None
    key, version = page_key(), data_version()
    request.environ[_MARK] = (key, version)
    page = app.extensions["visitor_pages"].get(
        key, version, app.config.get("VISITOR_PAGE_SECONDS", 30)
    )
    if page is None:
        return None
    response = Response(page.body, mimetype=page.mimetype)
    response.set_etag(page.etag)
    return response


def body_etag(body: bytes) -> str:
    """A strong entity tag for a response body."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def keepable(response: Response) -> bool:
    """A complete 200 HTML page that set no cookie and touched no session."""
    return (
        response.status_code == 200
        and response.mimetype == "text/html"
        and not response.is_streamed
        and not response.get_etag()[0]
        and not session.modified
        and "Set-Cookie" not in response.headers
        and (response.content_length or 0) <= MAX_PAGE_BYTES
    )


def _keep_and_revalidate(response: Response) -> Response:
    marked = request.environ.get(_MARK)
    if marked is None:
        return response
    key, version = marked
    response.headers["Cache-Control"] = "no-cache"  # browsers may keep it, and revalidate
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")
    if keepable(response):
        body = response.get_data()
        etag = body_etag(body)
        response.set_etag(etag)
        page = KeptPage(body, response.mimetype, etag, time.monotonic())
        current_app.extensions["visitor_pages"].put(key, version, page)
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    """Serve visitors' kept pages before the views run; keep new ones after."""
    if app.config.get("VISITOR_PAGE_SECONDS", 30) <= 0:
        return
    app.extensions["visitor_pages"] = KeptPages()
    app.before_request(_serve_kept_page)
    app.after_request(_keep_and_revalidate)
