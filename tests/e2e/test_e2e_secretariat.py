"""The secretariat records a plenary, drafts its minutes and assigns an action item."""

from __future__ import annotations

from tests.e2e.browsing import Page, Site, expect, follow, sign_in

TITLE = "Second plenary, Tallinn 2024"


def test_the_secretariat_records_a_plenary_with_minutes_and_an_action_item(
    page: Page, site: Site
) -> None:
    sign_in(page, site.account("secretariat", name="Plenary Secretariat"))

    nav = page.get_by_role("navigation", name="Main")
    follow(page, nav.get_by_role("link", name="Plenaries"))
    follow(page, page.get_by_role("link", name="Record a new plenary"))
    page.get_by_label("Number").fill("2")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("First day").fill("2024-09-17")
    page.get_by_label("Last day").fill("2024-09-18")
    page.get_by_label("Place").fill("Tallinn")
    page.get_by_label("Host state").select_option(label="Estonia")
    participants = page.get_by_role("group", name="Participating states")
    for name in ("Estonia", "Finland", "Latvia"):
        participants.get_by_label(name, exact=True).check()
    page.get_by_role("group", name="Who may read the record").get_by_label("Public").check()
    page.get_by_label("Agenda (Markdown)").fill("1. Opening\n2. Licensing practice\n")
    follow(page, page.get_by_role("button", name="Save"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    expect(page.get_by_text("Plenary 2 was recorded.")).to_be_visible()

    follow(page, page.get_by_role("link", name="Edit the draft minutes"))
    page.get_by_label("Minutes (Markdown)").fill(
        "## Opening\n\nEstonia opened the plenary.\n\n"
        "## Licensing practice\n\nStates compared notes.\n"
    )
    follow(page, page.get_by_role("button", name="Save the draft"))
    expect(page.get_by_text("The draft was saved.")).to_be_visible()

    follow(page, page.get_by_role("link", name="Add an action item"))
    page.get_by_label("Action").fill("Share licensing criteria for surveillance items")
    page.get_by_role("group", name="Owner states").get_by_label("Latvia", exact=True).check()
    page.get_by_label("Due").fill("2025-03-31")
    follow(page, page.get_by_role("button", name="Add"))
    expect(page.get_by_text("The action item was added.")).to_be_visible()
    items = page.get_by_role("table", name="What the plenary asked of whom")
    expect(items).to_contain_text("Share licensing criteria for surveillance items")
    expect(items).to_contain_text("Latvia")
