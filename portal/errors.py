"""Error pages: a plain sentence for every error a user can cause, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from portal.access import AccessDenied
from portal.extensions import db

F = TypeVar("F", bound=Callable[..., Any])

MESSAGES = {
    400: (
        _l("Bad request"),
        _l("The request could not be understood. Check what you sent and try again."),
    ),
    403: (_l("Not allowed"), _l("Your account is not allowed to do that.")),
    404: (
        _l("Not found"),
        _l("There is no page at this address, or you are not allowed to see it."),
    ),
    405: (_l("Not allowed"), _l("This address does not accept that kind of request.")),
    409: (_l("Conflict"), _l("Someone else changed this while you were working on it.")),
    413: (_l("Too large"), _l("What you sent is larger than the portal accepts.")),
    429: (
        _l("Too many attempts"),
        _l(
            "Too many attempts from here in a short time. For your security, please wait a few "
            "minutes before trying again."
        ),
    ),
    500: (
        _l("Something went wrong"),
        _l("The portal could not finish your request. It has been logged."),
    ),
}
RETRY_AFTER_SECONDS = 30
#: Request flag: the database is unreachable, so nothing may ask it who is signed in.
DATABASE_UNAVAILABLE = "portal.database_unavailable"


def render_error(code: int, message: str | None = None) -> ResponseReturnValue:
    """Render the error page for `code` with an optional, more specific sentence."""
    title, default = MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    return render_template(
        "errors/error.html", code=code, title=str(title), message=message or str(default)
    ), code


def database_unavailable(error: Exception) -> ResponseReturnValue:
    """503 while the database cannot be reached (down, restarting, locked): logged, no traceback.

    The pool pings connections before use, so requests succeed again once it is back.
    """
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    current_app.logger.warning(
        "database unavailable for %s %s: %s", request.method, request.path, reason
    )
    # Straight from Jinja: Flask's context processors would ask the database who is signed in.
    # The language then follows the cookie and the browser only (portal/i18n.py).
    request.environ[DATABASE_UNAVAILABLE] = True
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(
        retry=request.path,
        title=_("Temporarily unavailable"),
        message=_(
            "The portal is temporarily unavailable: it cannot reach its database right now. "
            "Please try again in a minute. If you were saving something, check that it was saved "
            "once the portal is back."
        ),
    )
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def end_database_session(error: BaseException | None) -> None:
    """End the request's session; a connection the database dropped meanwhile is only logged.

    Registered after Flask-SQLAlchemy, so it runs first: its teardown would raise from the
    rollback of a dead connection and turn a response that was ready into a server error.
    """
    try:
        db.session.remove()
    except (OperationalError, InterfaceError) as lost:
        current_app.logger.warning("database connection lost after a request: %s", lost.orig)
        db.session.remove()  # the connection is invalidated now: closing it again is quiet


def cleans_its_own_arguments(view: F) -> F:
    """Mark a view that removes control characters from its query string itself."""
    view.cleans_its_own_arguments = True  # type: ignore[attr-defined]
    return view


def reject_nul_characters() -> ResponseReturnValue | None:
    """Refuse NUL characters in the path, arguments or form fields: no text may hold them.

    PostgreSQL cannot store them, and no honest browser sends them. A view marked with
    `cleans_its_own_arguments` (the search page) tidies its arguments and says so instead.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    arguments = [] if getattr(view, "cleans_its_own_arguments", False) else request.args.values()
    # Without a body to parse, a GET's empty form is not built at all.
    form = request.form.values() if request.want_form_data_parsed else ()
    values = [request.path, *arguments, *form]
    if any("\x00" in value for value in values):
        return render_error(400, _("The request contains a NUL character, which is not allowed."))
    return None


def init_app(app: Flask) -> None:
    """Register the error handlers and the NUL-character guard."""
    app.before_request(reject_nul_characters)
    # Lost connections, refused connections, a locked SQLite file, an exhausted pool.
    for database_error in (OperationalError, InterfaceError, PoolTimeoutError):
        app.register_error_handler(database_error, database_unavailable)
    app.teardown_appcontext(end_database_session)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> ResponseReturnValue:
        current_app.logger.warning("CSRF refused on %s: %s", request.path, error.description)
        return render_error(
            400,
            _(
                "This form could not be accepted because its security token is missing or out "
                "of date. Go back, reload the page and send it again; your text is still in the "
                "form."
            ),
        )

    @app.errorhandler(AccessDenied)
    def access_denied(error: AccessDenied) -> ResponseReturnValue:
        current_app.logger.info("refused %s %s: %s", request.method, request.path, error)
        return render_error(403)

    # Also receives unhandled exceptions as InternalServerError (Flask logs their traceback).
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        code = error.code or 500
        if code not in MESSAGES:
            return error
        # A view may abort with a sentence of its own; class defaults are Werkzeug's prose.
        custom = error.description if error.description != type(error).description else None
        return render_error(code, custom)
