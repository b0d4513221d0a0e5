"""A government official writes a note with the live preview, publishes it, finds it, and
reads its history and a diff."""

from __future__ import annotations

from tests.e2e.browsing import Page, Site, axe_check, expect, follow, sign_in

TITLE = "Quillwort procedure for lawful-interception exports"


def test_an_official_writes_publishes_finds_and_revises_a_note(page: Page, site: Site) -> None:
    sign_in(page, site.account("government", "FR", name="Camille Martin"))

    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Write"))
    follow(page, page.get_by_role("link", name="Implementation note"))
    expect(page.get_by_role("heading", level=1)).to_have_text("New implementation note")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("1. Human-rights review of exports").check()
    page.get_by_role("group", name="Who may read it").get_by_label("Public").check()
    page.get_by_label("Published").check()
    page.locator("#source").fill(
        "## Quillwort licensing steps\n\n"
        "1. Screen the end user.\n2. Consult the human-rights desk.\n"
    )
    # The live preview renders the Markdown through the server while the official types.
    preview = page.locator("#markdown-preview")
    expect(preview.get_by_role("heading", name="Quillwort licensing steps")).to_be_visible()
    expect(preview.get_by_role("listitem")).to_have_count(2)
    axe_check(page)  # the editor with its preview showing

    follow(page, page.get_by_role("button", name="Save"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_role("heading", name="Quillwort licensing steps")).to_be_visible()

    page.get_by_role("search").get_by_role("searchbox").fill("quillwort")
    follow(page, page.get_by_role("search").get_by_role("button", name="Search"))
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    follow(page, page.get_by_role("link", name=TITLE))

    follow(page, page.get_by_role("link", name="Edit", exact=True))
    page.locator("#source").fill(
        "## Quillwort licensing steps\n\n"
        "1. Screen the end user.\n2. Consult the human-rights desk.\n"
        "3. Record the decision in the licensing register.\n"
    )
    page.get_by_label("Summary of this change").fill("Added the register step")
    follow(page, page.get_by_role("button", name="Save"))
    expect(page.get_by_text("Record the decision in the licensing register.")).to_be_visible()

    follow(page, page.get_by_role("link", name="History"))
    history = page.get_by_role("table")
    expect(history).to_contain_text("2 revisions")
    expect(history).to_contain_text("Added the register step")
    follow(page, page.get_by_role("button", name="Compare selected revisions"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Changes to")
    added = page.locator("table.diff ins")
    expect(added).to_have_text("3. Record the decision in the licensing register.")
