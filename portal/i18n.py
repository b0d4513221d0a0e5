"""The interface language: Flask-Babel, English and French.

The language follows the signed-in user's choice, then a visitor's `lang` cookie, then the
browser's Accept-Language. Documents are not translated; they carry their own language tag.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel, get_locale
from flask_login import current_user

#: Interface languages with complete catalogues, and their names in their own language.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français"}
DEFAULT_LOCALE = "en"
#: A visitor's choice, remembered without an account.
LOCALE_COOKIE = "lang"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

babel = Babel()


def chosen_locale() -> str | None:
    """The language someone chose explicitly (account setting or cookie), if any."""
    user_choice = getattr(current_user, "locale", None) if current_user else None
    if user_choice in LANGUAGES:
        return str(user_choice)
    cookie = request.cookies.get(LOCALE_COOKIE)
    return cookie if cookie in LANGUAGES else None


def select_locale() -> str:
    """The user's choice, then the browser's preference, then English."""
    return chosen_locale() or request.accept_languages.best_match(
        list(LANGUAGES), default=DEFAULT_LOCALE
    )


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the portal's catalogues and locale selector."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals["get_locale"] = get_locale

    @app.context_processor
    def languages() -> dict[str, object]:
        return {"LANGUAGES": LANGUAGES}
