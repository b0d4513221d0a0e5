"""A signed-in reader's pages, kept by each worker for that reader's own session.

A signed-in page carries what belongs to its reader (their name, CSRF tokens bound to their
session, the actions they may take), so it is never shared: it is kept under the key of the
account, server-side session and CSRF token that rendered it, for one version of the data and
at most VISITOR_PAGE_SECONDS, like the visitors' pages. Every change through the services (a
new role, an approval, a revoked account, an edit, a comment) appends an audit event, and the
database counts every end of a session and every change of an account's activation, session
version, role, state or language, however made (migration 0008): either moves the data
version, and so makes every kept page stale at once.

A page kept under the current version was therefore rendered for a session that is still
signed in, in the account's current language: it is served without reading the session or
loading the account, with the version from the worker's watch (PostgreSQL's notifications:
no query; a session ended elsewhere stops getting kept pages as soon as the watch hears of
it, within milliseconds; one that has not heard from the database for a heartbeat and a
half is not trusted) or else one primary-key read. At version 0 (no audit chain head: tables
emptied by hand, so nothing counts ends of sessions) no page is kept. A browser's own changes
are always seen: its session notes the time of each change it sends, and for
OWN_CHANGE_SECONDS after it the version is read. A kept page is served only while the
session's idle clock needs no update, never while a flash message waits, and never to an API
client; anything else takes the normal path, which loads the account. On a miss the view
loads the account after the version was taken, so a page kept under a version is never
drawn from an older account (the one hook that may load it before, the idle check moving the
idle clock on, modifies the session, and such a response is not kept). Flask-Login's session
protection is not asked on this path: for the portal's sessions, which are permanent, it
never refuses one (it marks it "not fresh" when the browser's address or agent changed, and
no page of the portal asks for a fresh sign-in).
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.auth.sessions import SESSION_KEY, Idle, idle_state, session_claim
from portal.auth.tokens import token_hash
from portal.data_version import data_version
from portal.i18n import locale_for
from portal.kept_pages import KeptPage, kept_pages
from portal.visitor_pages import KEPT_ENDPOINTS, keepable, page_key

_MARK = "portal.reader_page"
_SERVED = "portal.reader_page_served"
#: Where a browser's session notes when it last sent a change (whole seconds since the epoch).
OWN_CHANGE_KEY = "changed_at"
#: Seconds after a browser's own change during which its pages read the data version rather
#: than take the watch's (which hears of a change within milliseconds, or stops vouching).
OWN_CHANGE_SECONDS = 5


def _kept_page_key() -> tuple[str, int] | None:
    """This session's key for the page asked for, and the data version; None if the page
    may not be kept or the cookie names no session."""
    now = int(time.time())
    if (
        request.method not in ("GET", "HEAD")
        or request.endpoint not in KEPT_ENDPOINTS
        or "Authorization" in request.headers
        or session.get("_flashes")
        or not session.permanent
        or idle_state(now) is not Idle.ACTIVE
        or "_login_user" in g  # the account was loaded before the version is taken
    ):
        return None
    claim = session_claim()
    if claim is None:
        return None
    changed_at = session.get(OWN_CHANGE_KEY)
    recent = isinstance(changed_at, int) and now - changed_at <= OWN_CHANGE_SECONDS
    version = data_version(for_reader=not recent)
    if version == 0:
        return None
    csrf = token_hash(str(session.get(current_app.config["WTF_CSRF_FIELD_NAME"], "")))
    # The language the browser asks for: the page's is the account's choice, if it has one,
    # which is fixed for one data version.
    session_key = f"{claim.user_id}.{claim.version} {claim.token_hash} {csrf}"
    return f"{session_key} {page_key(locale_for(None))}", version


def _serve_kept_page() -> ResponseReturnValue | None:
    marked = _kept_page_key()
    if marked is None:
        return None
    request.environ[_MARK] = marked
    key, version = marked
    page = current_app.extensions["reader_pages"].get(
        key, version, current_app.config.get("VISITOR_PAGE_SECONDS", 30)
    )
    if page is None:
        return None  # the view renders it, loading the account after the read above
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


def _note_own_change(response: Response) -> Response:
    """After a signed-in browser sends a change, note the time in its session: its next
    pages are never older than its own change, whichever worker serves them."""
    if (
        request.method in current_app.config["WTF_CSRF_METHODS"]  # the methods that change
        and response.status_code < 400  # refused or failed: nothing changed
        and SESSION_KEY in session
    ):
        session[OWN_CHANGE_KEY] = int(time.time())
    return response


def init_app(app: Flask) -> None:
    """Serve a reader's kept pages before the views run; keep new ones after."""
    if app.config.get("VISITOR_PAGE_SECONDS", 30) <= 0:
        return
    app.extensions["reader_pages"] = kept_pages(app, "readers")
    app.before_request(_serve_kept_page)
    app.after_request(_keep)
    app.after_request(_note_own_change)
