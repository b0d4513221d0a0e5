"""A signed-in reader's pages, kept by each worker for that reader's own session.

A signed-in page carries what belongs to its reader (their name, CSRF tokens bound to their
session, the actions they may take), so it is never shared: it is kept under the key of the
server-side session and CSRF token that rendered it, for one version of the data and at most
VISITOR_PAGE_SECONDS, like the visitors' pages. Every change through the services (a new
role, an approval, a revoked account, an edit, a comment) appends an audit event and so
makes every kept page stale at once; a change of password, role or two factors also ends the
session itself.

A kept page is served without loading the account: one read, from one snapshot, checks that
the session the cookie names is still signed in (the user loader's own conditions,
`sessions.signed_in`) and gives the account's language and the data version. It is served
only while the session's idle clock needs no update, never while a flash message waits, and
never to an API client; anything else takes the normal path, which loads the account. On a
miss the view loads the account after that read, so a page kept under a version is never
drawn from an older account (the one hook that may load it before, the idle check moving the
idle clock on, modifies the session, and such a response is not kept). A page is kept only
in the language the key was made with. Flask-Login's session protection is not asked on this
path: for the portal's sessions, which are permanent, it never refuses one (it marks it "not
fresh" when the browser's address or agent changed, and no page of the portal asks for a
fresh sign-in).
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, request, session
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_login import current_user

from portal.auth.sessions import Idle, idle_state, session_claim, signed_in
from portal.auth.tokens import token_hash
from portal.data_version import with_data_version
from portal.direct_reads import read_now
from portal.i18n import locale_for
from portal.kept_pages import KeptPage, kept_pages
from portal.models import User
from portal.visitor_pages import KEPT_ENDPOINTS, keepable, page_key

_MARK = "portal.reader_page"
_SERVED = "portal.reader_page_served"
#: The signed-in account's language and the data version; no row if not signed in.
_READER = with_data_version(signed_in(User.locale))


def _kept_page_key() -> tuple[str, int, str] | None:
    """This session's key for the page asked for, the data version and the language; None
    if the page may not be kept or the cookie names no signed-in session."""
    if (
        request.method not in ("GET", "HEAD")
        or request.endpoint not in KEPT_ENDPOINTS
        or "Authorization" in request.headers
        or session.get("_flashes")
        or not session.permanent
        or idle_state(int(time.time())) is not Idle.ACTIVE
    ):
        return None
    claim = session_claim()
    if claim is None:
        return None
    row = read_now(_READER, claim.parameters)
    if row is None:
        return None
    account_locale, version = row
    locale = locale_for(account_locale)
    csrf = token_hash(str(session.get(current_app.config["WTF_CSRF_FIELD_NAME"], "")))
    return f"{claim.token_hash} {csrf} {page_key(locale)}", version, locale


def _serve_kept_page() -> ResponseReturnValue | None:
    marked = _kept_page_key()
    if marked is None:
        return None
    request.environ[_MARK] = marked
    key, version, _ = marked
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
    key, version, locale = marked
    if (
        keepable(response)
        and not request.environ.get(_SERVED)
        and current_user.is_authenticated
        # The language was read with the version; the account loaded for the page may have
        # been saved with another since (not an audited change).
        and str(get_locale()) == locale
    ):
        page = KeptPage(response.get_data(), response.mimetype, "", time.monotonic())
        current_app.extensions["reader_pages"].put(key, version, page)
    return response


def init_app(app: Flask) -> None:
    """Serve a reader's kept pages before the views run; keep new ones after."""
    if app.config.get("VISITOR_PAGE_SECONDS", 30) <= 0:
        return
    app.extensions["reader_pages"] = kept_pages(app, "readers")
    app.before_request(_serve_kept_page)
    app.after_request(_keep)
