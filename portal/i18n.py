"""The interface language: Flask-Babel, English and French.

The language follows the signed-in user's choice, then a visitor's `lang` cookie, then the
browser's Accept-Language. Documents are not translated; they carry their own language tag.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, has_request_context, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from wtforms import ValidationError

from portal.auth.sessions import carries_credentials
from portal.extensions import csrf, db
from portal.security import safe_local_url

#: Interface languages with complete catalogues, and their names in their own language.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}
DEFAULT_LOCALE = "en"
#: A visitor's choice, remembered without an account.
LOCALE_COOKIE = "lang"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
#: How long a visitor's choice is remembered.
LOCALE_COOKIE_SECONDS = 365 * 24 * 3600

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """Flask-Babel's locale selector: see `locale_for` (English outside a request)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    # A visitor has no account to ask; while the database is unreachable, asking who is
    # signed in would fail (portal/errors.py).
    if not carries_credentials() or request.environ.get("portal.database_unavailable"):
        return locale_for(None)
    return locale_for(getattr(current_user, "locale", None) if current_user else None)


def locale_for(account_choice: str | None) -> str:
    """The signed-in account's choice, then the language cookie, then the browser's
    preference, then English."""
    if account_choice in LANGUAGES:
        return str(account_choice)
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in LANGUAGES:
        return str(cookie)
    return _browser_choice(request.headers.get("Accept-Language", ""))


@lru_cache(maxsize=256)
def _browser_choice(accept_language: str) -> str:
    """The best interface language for an Accept-Language header (browsers send a few)."""
    offered = parse_accept_header(accept_language, LanguageAccept)
    return str(offered.best_match(list(LANGUAGES), default=DEFAULT_LOCALE))


def _back_to(path: str | None) -> str:
    """The page the form was on: `path`, with the query string the browser's Referer adds."""
    target = safe_local_url(path)
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path == target and referrer.query:
        return safe_local_url(f"{referrer.path}?{referrer.query}")
    return target


def _cross_site_post() -> bool:
    """A visitor's form sent from another site (the browser says so in its headers)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return bool(origin and origin != "null" and urlsplit(origin).netloc != request.host)


def save_locale(user: object, locale: str | None) -> None:
    """Remember a signed-in user's interface language (None: follow the browser)."""
    user.locale = locale  # type: ignore[attr-defined]
    db.session.commit()


# Exempt from the global check because visitors' pages carry no CSRF token: a token would give
# every visitor a session and keep their pages out of the visitor page cache. A visitor's choice
# only sets a cookie in their own browser; cross-site posts are still refused below, and a
# signed-in user's choice (it changes the account) must carry the form's token.
@bp.post("/language")
@csrf.exempt
def choose_language() -> ResponseReturnValue:
    """Switch the interface language, then go back to the page the form was on."""
    choice = request.form.get("lang", "")
    if choice not in LANGUAGES and not (choice == "" and current_user.is_authenticated):
        abort(400, _("Choose one of the languages offered."))
    if current_user.is_authenticated:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:  # missing or stale token: the CSRF error page
            raise CSRFError(str(error)) from error
        save_locale(current_user, choice or None)
    elif _cross_site_post():
        abort(400, _("The language can only be changed from the portal's own pages."))
    response = redirect(_back_to(request.form.get("next")))
    if choice:
        response.set_cookie(
            LOCALE_COOKIE,
            choice,
            max_age=LOCALE_COOKIE_SECONDS,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(LOCALE_COOKIE)
    return response


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the portal's catalogues and locale selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals["get_locale"] = get_locale
    app.register_blueprint(bp)

    @app.context_processor
    def languages() -> dict[str, object]:
        return {"LANGUAGES": LANGUAGES}
