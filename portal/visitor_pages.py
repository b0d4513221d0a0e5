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

import time

from flask import Flask, Response, current_app, request, session
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from portal.auth.sessions import carries_credentials
from portal.data_version import data_version
from portal.kept_pages import KeptPage, body_etag, kept_pages

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
#: The largest page kept.
MAX_PAGE_BYTES = 512 * 1024
#: Where a request that may be kept records its page key and data version.
_MARK = "portal.visitor_page"


def _is_visitor_request() -> bool:
    """A GET of a kept endpoint by someone with no session, remember cookie or credentials."""
    return (
        request.method in ("GET", "HEAD")
        and request.endpoint in KEPT_ENDPOINTS
        and not carries_credentials()
    )


def page_key(locale: str | None = None) -> str:
    """Pages differ by host, path and query, and by interface language (`locale`, or the
    request's). Cheaper than `request.url`, which re-encodes the whole URL."""
    return f"{locale or get_locale()} {request.host}{request.full_path}"


def _serve_kept_page() -> ResponseReturnValue | None:
    if not _is_visitor_request():
        return None
    key, version = page_key(), data_version()
    request.environ[_MARK] = (key, version)
    page = current_app.extensions["visitor_pages"].get(
        key, version, current_app.config.get("VISITOR_PAGE_SECONDS", 30)
    )
    if page is None:
        return None
    response = Response(page.body, mimetype=page.mimetype)
    response.set_etag(page.etag)
    return response


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
    app.extensions["visitor_pages"] = kept_pages(app, "visitors")
    app.before_request(_serve_kept_page)
    app.after_request(_keep_and_revalidate)
