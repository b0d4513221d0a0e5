"""A visitor reads and searches, on a desktop, on a phone, by keyboard and without JavaScript."""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.browsing import Page, expect, follow, visit

FR_NOTE = "/documents/fr-human-rights-criteria-in-licensing"
#: Pages a visitor reaches from the main navigation, and a document and a search.
MAIN_PAGES = [
    "/",
    "/documents/",
    FR_NOTE,
    "/commitments/",
    "/commitments/matrix",
    "/states/",
    "/states/FR",
    "/plenaries/",
    "/plenaries/1",
    "/search?q=licensing",
    "/auth/sign-in",
]

#: The outermost elements reaching past the right edge of the screen (to say what to fix).
WIDEST_ELEMENTS = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth
               && e.parentElement.getBoundingClientRect().right <= innerWidth)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"""


def test_a_visitor_reads_the_home_page_documents_and_searches(page: Page) -> None:
    visit(page, "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("ECHRI Practice Portal")

    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Documents"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Documents")
    note = page.get_by_role("link", name="Human-rights criteria in dual-use licensing decisions")
    follow(page, note)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Human-rights criteria in dual-use licensing decisions"
    )
    expect(page.locator(".document-body")).to_contain_text("licen")

    page.get_by_role("search").get_by_role("searchbox").fill("surveillance")
    follow(page, page.get_by_role("search").get_by_role("button", name="Search"))
    results = page.get_by_role("heading", name="results")
    expect(results).to_be_visible()
    total = int(results.inner_text().split()[0])
    assert total > 1

    facets = page.get_by_role("complementary", name="Narrow the results")
    follow(page, facets.locator("[data-facet=type] a").first)
    expect(page.get_by_text("Narrowed to:")).to_be_visible()
    narrowed = int(page.get_by_role("heading", name="result").inner_text().split()[0])
    assert 0 < narrowed < total


def test_main_pages_fit_a_320_pixel_phone_screen(new_page: Callable[..., Page]) -> None:
    page = new_page(viewport={"width": 320, "height": 640})
    too_wide = {}
    for path in MAIN_PAGES:
        visit(page, path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            too_wide[path] = (width, page.evaluate(WIDEST_ELEMENTS))
    assert not too_wide, f"pages that scroll sideways at 320 px: {too_wide}"


def test_the_first_tab_focuses_the_skip_link_which_leads_to_the_content(page: Page) -> None:
    visit(page, FR_NOTE)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_a_visitor_without_javascript_reads_a_document_and_searches(
    new_page: Callable[..., Page],
) -> None:
    page = new_page(java_script_enabled=False)
    visit(page, FR_NOTE)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Human-rights criteria in dual-use licensing decisions"
    )
    page.get_by_role("search").get_by_role("searchbox").fill("licensing")
    follow(page, page.get_by_role("search").get_by_role("searchbox"), key="Enter")
    expect(page.get_by_role("heading", name="results")).to_be_visible()
    expect(
        page.get_by_role("link", name="Human-rights criteria in dual-use licensing decisions")
    ).to_be_visible()
