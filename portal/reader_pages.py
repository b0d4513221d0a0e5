"""A signed-in reader's pages, kept by each worker for that reader's own session.

A signed-in page carries what belongs to its reader (their name, CSRF tokens bound to their
session, the actions they may take), so it is never shared: it is kept under the key of the
server-side session that rendered it, for one version of the data and at most
VISITOR_PAGE_SECONDS, like the visitors' pages. Every change through the services (a new
role, an approval, a revoked account, an edit, a comment) appends an audit event and so
makes every kept page stale at once; a change of password, role or two factors also ends the
session itself.

A kept page is served only after the user loader and the idle-session check have accepted
the session (the hooks registered before this one), never while a flash message waits, and
never to an API client. Reading the same page again then costs those two checks and one
read of the data version instead of a render.
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.auth.sessions import SESSION_KEY
from portal.auth.tokens import token_hash
from portal.data_version import data_version
from portal.extensions import db
from portal.visitor_pages import KEPT_ENDPOINTS, KeptPage, KeptPages, keepable, page_key

_MARK = "portal.reader_page"
_SERVED = "portal.reader_page_served"


def _page_key() -> str | None:
    """This session's key for the page asked for, or None if it may not be kept."""
    raw = session.get(SESSION_KEY)
    if (
        not isinstance(raw, str)
        or request.method not in ("GET", "HEAD")
        or request.endpoint not in KEPT_ENDPOINTS
        or "Authorization" in request.headers
        or session.get("_flashes")
        or not current_user.is_authenticated
    ):
        return None
    return f"{token_hash(raw)} {page_key()}"


def _serve_kept_page() -> ResponseReturnValue | None:
    key = _page_key()
    if key is None:
        return None
    version = data_version()
    request.environ[_MARK] = (key, version)
    page = current_app.extensions["reader_pages"].get(
        key, version, current_app.config.get("VISITOR_PAGE_SECONDS", 30)
    )
    if page is None:
        # The account was loaded before the version was read: read it again, so that the
        # page kept under this version is never drawn from an older account.
        db.session.refresh(current_user._get_current_object())
        return None
    request.environ[_SERVED] = True
    return Response(page.body, mimetype=page.mimetype)


def _keep(response: Response) -> Response:
    marked = request.environ.get(_MARK)
    if marked is None:
        return response
    # Personal: no shared cache may store it, and the browser asks again each time.
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    key, version = marked
    if keepable(response) and not request.environ.get(_SERVED) and current_user.is_authenticated:
        page = KeptPage(response.get_data(), response.mimetype, "", time.monotonic())
        current_app.extensions["reader_pages"].put(key, version, page)
    return response


def init_app(app: Flask) -> None:
    """Serve a reader's kept pages before the views run; keep new ones after."""
    if app.config.get("VISITOR_PAGE_SECONDS", 30) <= 0:
        return
    app.extensions["reader_pages"] = KeptPages()
    app.before_request(_serve_kept_page)
    app.after_request(_keep)
