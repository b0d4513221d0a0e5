"""The interface in English and French: complete catalogues, the language people choose, and
documents that keep their own language tag."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import LOCALE_COOKIE
from portal.models import User
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[1]
FRENCH_PO = ROOT / "portal/translations/fr/LC_MESSAGES/messages.po"
FRENCH_MO = ROOT / "portal/translations/fr/LC_MESSAGES/messages.mo"
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None, "lazy_ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}


def source_messages() -> Catalog:
    """Every message the source asks to translate, extracted as `make translations` does."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def french_po() -> Catalog:
    with open(FRENCH_PO, "rb") as po:
        return read_po(po, locale="fr")


def _key(value: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)


def forms(message_string: str | tuple[str, ...]) -> tuple[str, ...]:
    return (message_string,) if isinstance(message_string, str) else tuple(message_string)


# --- the catalogues ---------------------------------------------------------------------------


def test_every_interface_string_has_a_french_translation():
    french = french_po()
    untranslated = []
    for message in source_messages():
        if not message.id:
            continue
        translated = french.get(message.id)
        if (
            translated is None
            or translated.fuzzy
            or not all(forms(translated.string))
            or (isinstance(message.id, tuple) and not isinstance(translated.id, tuple))
        ):
            untranslated.append(message.id)
    assert not untranslated, f"run `make translations` and translate: {untranslated}"


def test_the_compiled_french_catalogue_is_current():
    with open(FRENCH_MO, "rb") as mo:
        compiled = read_mo(mo)
    fresh = io.BytesIO()
    write_mo(fresh, french_po())
    fresh.seek(0)
    expected = read_mo(fresh)
    compiled_strings = {_key(m.id): _key(m.string) for m in compiled if m.id}
    expected_strings = {_key(m.id): _key(m.string) for m in expected if m.id}
    assert compiled_strings == expected_strings, "run `make translations` to compile the .mo"


def test_translations_keep_the_placeholders_of_their_message():
    mismatched = []
    for message in french_po():
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(forms(message.id))))
        for translation in forms(message.string):
            if set(PLACEHOLDER.findall(translation)) != wanted:
                mismatched.append((message.id, translation))
    assert not mismatched


def test_markup_in_translations_matches_the_message():
    """Links and emphasis survive translation: same tags, same attributes."""
    tag = re.compile(r"<[^>]+>")
    differ = [
        (message.id, translation)
        for message in french_po()
        if message.id
        for translation in forms(message.string)
        if sorted(tag.findall(forms(message.id)[-1])) != sorted(tag.findall(translation))
    ]
    assert not differ


# --- choosing the language --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "french"),
    [
        ("/", "Derniers documents"),
        ("/documents/", "Filtrer les documents"),
        ("/search?q=export", "Rechercher des documents"),
        ("/auth/sign-in", "Mot de passe oublié"),
    ],
)
def test_a_browser_asking_for_french_gets_french_pages(client, path, french):
    page = client.get(path, headers=FRENCH).get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert french in page
    english = client.get(path, headers=ENGLISH).get_data(as_text=True)
    assert '<html lang="en">' in english
    assert french not in english


def test_a_visitors_choice_overrides_the_browser(client):
    response = client.post("/language", data={"lang": "fr", "next": "/documents/"}, headers=ENGLISH)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/documents/")
    assert f"{LOCALE_COOKIE}=fr" in response.headers["Set-Cookie"]
    page = client.get("/documents/", headers=ENGLISH).get_data(as_text=True)
    assert '<html lang="fr">' in page and "Filtrer les documents" in page


def test_a_signed_in_users_saved_language_overrides_cookie_and_browser(client, login_as):
    user = login_as("industry")
    token = csrf_token(client, "/auth/account")
    response = client.post("/language", data={"lang": "fr", "next": "/", "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalars(select(User).where(User.id == user.id)).one().locale == "fr"
    client.set_cookie(LOCALE_COOKIE, "en", domain="portal.test")
    page = client.get("/documents/", headers=ENGLISH).get_data(as_text=True)
    assert '<html lang="fr">' in page and "Filtrer les documents" in page


def test_a_signed_in_user_cannot_change_the_language_without_the_forms_token(client, login_as):
    user = login_as("industry")
    response = client.post("/language", data={"lang": "fr", "next": "/"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, user.id).locale is None


def test_the_account_page_offers_to_follow_the_browser_again(client, login_as):
    user = login_as("civil_society")
    token = csrf_token(client, "/auth/account")
    client.post("/language", data={"lang": "fr", "next": "/", "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "fr"
    client.post("/language", data={"lang": "", "next": "/auth/account", "csrf_token": token})
    db.session.expire_all()
    assert db.session.get(User, user.id).locale is None
    assert '<html lang="en">' in client.get("/", headers=ENGLISH).get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_the_language_switcher_never_redirects_to_another_site(client, target):
    response = client.post("/language", data={"lang": "fr", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] in ("/", "http://portal.test/")


def test_the_language_switcher_refuses_a_post_from_another_site(client):
    response = client.post(
        "/language",
        data={"lang": "fr", "next": "/"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers


def test_the_language_switcher_refuses_unknown_languages(client):
    response = client.post("/language", data={"lang": "xx", "next": "/"})
    assert response.status_code == 400


def test_the_switcher_returns_to_the_same_search(client):
    response = client.post(
        "/language",
        data={"lang": "fr", "next": "/search"},
        headers={"Referer": "http://portal.test/search?q=export+controls"},
    )
    assert response.headers["Location"].endswith("/search?q=export+controls")


# --- documents keep their own language --------------------------------------------------------


def test_documents_keep_their_own_language_tag_on_a_french_page(client, make_document):
    document = make_document(title="Licensing criteria")
    page = client.get(f"/documents/{document.slug}", headers=FRENCH).get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert f'<h1 lang="{document.lang}">Licensing criteria</h1>' in page
    assert f'<div class="document-body" lang="{document.lang}">' in page
    listing = client.get("/documents/", headers=FRENCH).get_data(as_text=True)
    assert f'lang="{document.lang}">Licensing criteria</a>' in listing


def test_search_hits_carry_their_documents_language(client, make_document):
    make_document(title="Catch-all controls")
    page = client.get("/search?q=catch-all", headers=FRENCH).get_data(as_text=True)
    assert re.search(r'<a href="/documents/[^"]+" lang="en">Catch-all controls</a>', page)


# --- the visitor page cache -------------------------------------------------------------------


def test_the_visitor_page_cache_keeps_each_language_apart(client):
    french = client.get("/documents/", headers=FRENCH).get_data(as_text=True)
    assert "Filtrer les documents" in french
    english = client.get("/documents/", headers=ENGLISH)
    assert "Filter documents" in english.get_data(as_text=True)
    assert "Filtrer les documents" not in english.get_data(as_text=True)
    assert "Accept-Language" in english.headers["Vary"] and "Cookie" in english.headers["Vary"]


def test_french_error_pages(client):
    page = client.get("/documents/no-such-document", headers=FRENCH).get_data(as_text=True)
    assert "Introuvable" in page


def test_mail_goes_out_in_the_recipients_language(app, client, make_user):
    user = make_user("industry")
    user.locale = "fr"
    db.session.commit()
    client.post(
        "/auth/forgot-password",
        data={"email": user.email, "csrf_token": csrf_token(client, "/auth/forgot-password")},
        headers=ENGLISH,
    )
    outbox = Path(app.config["MAIL_OUTBOX_DIR"])
    mail = next(outbox.glob("*.eml")).read_text(encoding="utf-8")
    assert "Bonjour" in mail
