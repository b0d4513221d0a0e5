"""Accessible, printable pages, checked in the HTML every page type sends (no browser).

Each main page, for a visitor and for signed-in people, must have: one h1, the skip link as
the first thing to focus, the landmarks, a label for every control, headers in every table,
field errors tied to their fields, the print stylesheet, and nothing loaded from elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import lxml.html
import pytest
from flask.testing import FlaskClient
from lxml.html import HtmlElement

from portal.extensions import db
from portal.models import Document, Visibility
from portal.plenaries.services import (
    PlenaryFields,
    adopt_minutes,
    circulate_minutes,
    create_plenary,
    save_minutes,
)
from tests.conftest import csrf_token, edit_document, state

MINUTES = "## Opening\n\nThe chair opened the plenary.\n\n## Licensing\n\nStates shared practice."
TABLE_SOURCE = (
    "## Scope\n\nSee [the Code](https://example.org/code).\n\n| a | b |\n|---|---|\n| 1 | 2 |"
)
FOCUSABLE = (
    "//a[@href] | //button | //select | //textarea | //summary | //*[@tabindex >= 0]"
    " | //input[not(@type='hidden')]"
)
PRINT = "/static/print.css"
LABELLED_CONTROLS = (
    "//select | //textarea"
    " | //input[not(@type='hidden' or @type='submit' or @type='button' or @type='reset')]"
)


def parse(client: FlaskClient, path: str, status: int = 200) -> HtmlElement:
    """The page at `path`, parsed, after checking its status."""
    response = client.get(path)
    assert response.status_code == status, f"{path}: {response.status_code}"
    return lxml.html.fromstring(response.get_data(as_text=True))


def problems(page: HtmlElement) -> Iterator[str]:
    """Every accessibility, print or CSP rule the page breaks, in words."""
    if len(page.xpath("//h1")) != 1:
        yield f"{len(page.xpath('//h1'))} h1 elements"
    focusable = [e for e in page.xpath(FOCUSABLE) if not e.xpath("ancestor-or-self::*[@hidden]")]
    first = focusable[0] if focusable else None
    if first is None or first.get("href") != "#main" or "skip-link" not in first.get("class", ""):
        yield "the skip link to #main is not the first focusable element"
    if len(page.xpath("//main[@id='main']")) != 1 or len(page.xpath("//main")) != 1:
        yield "not exactly one <main id=main>"
    if not page.xpath("//header[@class='site-header']") or not page.xpath("//footer"):
        yield "no page header or footer"
    if any(not nav.get("aria-label") for nav in page.xpath("//nav")):
        yield "a nav without a name"
    ids = page.xpath("//@id")
    if len(ids) != len(set(ids)):
        yield f"duplicate ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    for control in page.xpath(LABELLED_CONTROLS):
        if not _labelled(page, control):
            yield f"unlabelled {control.tag} {control.get('name')!r}"
    for table in page.xpath("//table"):
        if not table.xpath(".//th"):
            yield "a table without header cells"
        # The portal's own tables say what their headers head (Markdown's are simple grids).
        headers = table.xpath(".//thead//th[not(ancestor::*[contains(@class, 'document-body')])]")
        if any(th.get("scope") not in ("col", "row") for th in headers):
            yield "a column header without scope"
    for scroller in page.xpath("//*[contains(@class, 'table-scroll')]"):
        if scroller.get("tabindex") != "0" or not scroller.get("aria-labelledby"):
            yield "a table scroll container that is not focusable and named"
    for element in page.xpath("//*[@aria-describedby or @aria-labelledby]"):
        refs = (element.get("aria-describedby") or "").split()
        refs += (element.get("aria-labelledby") or "").split()
        for ref in refs:
            if ref not in ids:
                yield f"aria reference to a missing id {ref!r}"
    if not page.xpath("//head/link[@rel='stylesheet' and @media='print' and @href=$c]", c=PRINT):
        yield "print.css is not linked"
    for url in page.xpath("//script/@src | //link/@href | //img/@src"):
        if url.startswith(("http:", "https:", "//")):
            yield f"loads {url} from elsewhere"
    if page.xpath("//script[not(@src)]"):
        yield "an inline script (the CSP forbids it)"
    if page.xpath("//@style"):
        yield "an inline style attribute (the CSP forbids it)"
    if [name for e in page.iter() for name in e.attrib if name.startswith("on")]:
        yield "an inline event handler (the CSP forbids it)"


def _labelled(page: HtmlElement, control: HtmlElement) -> bool:
    if control.get("aria-label") or control.get("aria-labelledby"):
        return True
    if control.xpath("ancestor::label"):
        return True
    control_id = control.get("id")
    return bool(control_id and page.xpath("//label[@for=$id]", id=control_id))


def assert_accessible(client: FlaskClient, paths: list[str], status: int = 200) -> None:
    """Fail with the rules each page at `paths` breaks (all pages checked, then reported)."""
    broken = {path: list(problems(parse(client, path, status))) for path in paths}
    assert {path: found for path, found in broken.items() if found} == {}


@pytest.fixture
def site(app, make_document, make_user):
    """A public note with a table and an external link, a restricted note, and a public
    plenary with adopted minutes: one of each main page type."""
    secretariat = make_user("secretariat")
    note = make_document(title="Catch-all controls", source=TABLE_SOURCE)
    edit_document(note, source=TABLE_SOURCE + "\n\nA second revision.")
    make_document(title="Sensitive note", visibility=Visibility.GOVERNMENT, state_code="DE")
    plenary = create_plenary(
        secretariat,
        PlenaryFields(
            number=3,
            title="Third plenary",
            starts_on=dt.date(2025, 9, 14),
            ends_on=dt.date(2025, 9, 15),
            place="Washington",
            host_state=state("US"),
            participants=[state("US"), state("FR")],
            visibility=Visibility.PUBLIC,
            agenda_source="1. Opening",
            decisions_source="The plenary agreed a work plan.",
        ),
    )
    save_minutes(secretariat, plenary, MINUTES)
    now = dt.datetime.now(dt.UTC)
    circulate_minutes(secretariat, plenary, now + dt.timedelta(days=1), now=now)
    adopt_minutes(secretariat, plenary, now=now)
    db.session.commit()
    return note


VISITOR_PAGES = [
    "/",
    "/documents/",
    "/documents/{slug}",
    "/documents/{slug}/revisions/1",
    "/documents/{slug}/history",
    "/documents/{slug}/diff?a=1&b=2",
    "/commitments/",
    "/commitments/1",
    "/commitments/matrix",
    "/states/",
    "/states/FR",
    "/plenaries/",
    "/plenaries/3",
    "/plenaries/3/minutes",
    "/search?q=controls",
    "/search?q=",
    "/auth/sign-in",
    "/auth/request-access",
    "/auth/forgot-password",
]


def test_every_main_page_is_accessible_to_a_visitor(client, site):
    assert_accessible(client, [path.format(slug=site.slug) for path in VISITOR_PAGES])


def test_error_pages_are_accessible(client, site):
    assert_accessible(client, ["/documents/no-such-document"], 404)


GOVERNMENT_PAGES = [
    "/",
    "/documents/new",
    "/documents/new?type=implementation_note",
    "/documents/{slug}",
    "/documents/{slug}/edit",
    "/documents/{slug}/history",
    "/plenaries/3",
    "/plenaries/3/minutes",
    "/search?q=note",
    "/auth/account",
    "/states/DE",
]


def test_every_main_page_is_accessible_to_a_signed_in_official(client, site, login_as):
    login_as("government", "FR")
    assert_accessible(client, [path.format(slug=site.slug) for path in GOVERNMENT_PAGES])


SECRETARIAT_PAGES = [
    "/admin/",
    "/admin/users",
    "/admin/documents",
    "/admin/states",
    "/admin/comments",
    "/audit/",
    "/plenaries/new",
    "/plenaries/3/edit",
    "/plenaries/3/minutes/edit",
    "/plenaries/3/actions/new",
    "/auth/invitations",
    "/auth/invitations/new",
    "/auth/password",
]


def test_every_administration_page_is_accessible(client, site, login_as):
    login_as("secretariat")
    assert_accessible(client, SECRETARIAT_PAGES)


def test_the_current_page_is_marked_in_the_navigation(client, site):
    page = parse(client, "/plenaries/")
    [current] = page.xpath("//nav//a[@aria-current='page']")
    assert current.get("href") == "/plenaries/"
    assert not parse(client, "/plenaries/3").xpath("//nav//a[@aria-current]")


def test_a_refused_form_lists_its_errors_at_the_top_and_ties_each_to_its_field(
    client, login_as
):
    login_as("government", "FR")
    path = "/documents/new?type=implementation_note"
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "title": "", "source": "", "save": "Save"},
    )
    assert response.status_code == 400
    page = lxml.html.fromstring(response.get_data(as_text=True))
    assert list(problems(page)) == []
    [summary] = page.xpath("//main//*[contains(@class, 'error-summary')]")
    assert summary.get("role") == "alert"
    targets = {a.get("href") for a in summary.xpath(".//a")}
    assert {"#title", "#source", "#visibility-0"} <= targets
    for target in targets:
        assert page.xpath("//*[@id=$id]", id=target[1:]), target
    title = page.get_element_by_id("title")
    assert title.get("aria-invalid") == "true"
    error = page.get_element_by_id(title.get("aria-describedby").split()[-1])
    assert "Error:" in error.text_content() and "required" in error.text_content()
    # A radio group's error is tied to each of its options.
    visibility = page.xpath("//input[@name='visibility']")
    assert visibility and all(
        "visibility-error" in (radio.get("aria-describedby") or "") for radio in visibility
    )


def test_fields_without_hint_or_error_carry_no_empty_description(client, login_as):
    login_as("government", "FR")
    page = parse(client, "/documents/new?type=implementation_note")
    assert not page.xpath("//*[@aria-describedby='']")
    assert not page.xpath("//*[@aria-invalid]")


def test_flash_messages_are_announced_and_say_what_they_are(client, login_as, make_document):
    login_as("government", "FR")
    note = make_document()
    path = f"/documents/{note.slug}"
    client.post(f"{path}/withdraw", data={"csrf_token": csrf_token(client, path)})
    page = parse(client, path)
    [flashes] = page.xpath("//main/*[contains(@class, 'flashes')]")
    assert flashes.get("role") == "status" and flashes.get("aria-live") == "polite"
    assert flashes.text_content().split() == ["Done:", "The", "document", "was", "withdrawn."]


def test_an_error_flash_is_an_alert(app, client, login_as):
    login_as("government", "FR")
    with client.session_transaction() as session:
        session["_flashes"] = [("error", "The file could not be stored.")]
    page = parse(client, "/")
    [flashes] = page.xpath("//main/*[contains(@class, 'flashes')]")
    assert flashes.get("role") == "alert"
    assert flashes.text_content().split()[0] == "Error:"


def test_document_pages_can_be_cited_by_a_permalink_to_their_revision(client, site):
    document = db.session.get(Document, site.id)
    for path, number in (
        (f"/documents/{document.slug}", 2),
        (f"/documents/{document.slug}/revisions/1", 1),
    ):
        page = parse(client, path)
        [cite] = page.xpath("//section[contains(@class, 'cite')]")
        assert cite.xpath(".//h2")[0].text_content() == "Cite this"
        permalink = f"http://portal.test/documents/{document.slug}/revisions/{number}"
        assert cite.xpath(".//figure/blockquote//a[@href=$url]", url=permalink)
        plain = cite.xpath(".//textarea[@readonly]")[0].text_content()
        assert permalink in plain and f"revision {number}" in plain
        assert "Catch-all controls" in plain and "France" in plain
        assert parse(client, permalink.removeprefix("http://portal.test")) is not None


def test_minutes_can_be_cited_and_print_a_page_per_item(client, site):
    page = parse(client, "/plenaries/3/minutes")
    assert page.xpath("//article[contains(@class, 'minutes')]//h2[@id='doc-licensing']")
    [cite] = page.xpath("//section[contains(@class, 'cite')]")
    plain = cite.xpath(".//textarea")[0].text_content()
    assert "http://portal.test/plenaries/3/minutes" in plain
    assert "Minutes of plenary 3: Third plenary" in plain and "revision 1" in plain


def test_permalinks_are_built_on_the_configured_base_url(app, client, site):
    app.config["BASE_URL"] = "https://portal.echri.example"
    page = parse(client, f"/documents/{site.slug}")
    assert page.xpath(
        "//a[@class='permalink' and @href=$url]",
        url=f"https://portal.echri.example/documents/{site.slug}/revisions/2",
    )


def test_print_stylesheet_hides_the_chrome_and_prints_link_targets(client):
    with client.get("/static/print.css") as response:
        assert response.status_code == 200
        css = response.get_data(as_text=True)
    for hidden in (".site-header", ".site-footer", "nav", "form", ".editor-toolbar"):
        assert hidden in css.split("display: none")[0]
    links = css.split('a[href^="http"]::after')[1].split("}")[0]
    assert 'content: " (" attr(href) ")"' in links
    assert ".minutes .document-body h2 { break-before: page;" in css
