"""Civil society reviews a state's progress on its commitments."""

from __future__ import annotations

from tests.e2e.browsing import Page, Site, expect, follow, sign_in, visit

TITLE = "Review of Norway's consultation of civil society"


def test_a_researcher_files_a_review_of_a_states_commitments(page: Page, site: Site) -> None:
    sign_in(page, site.account("civil_society", name="Amara Okafor"))

    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Write"))
    follow(page, page.get_by_role("link", name="Review"))
    expect(page.get_by_role("heading", level=1)).to_have_text("New review")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("State").select_option(label="Norway")
    page.get_by_label("2. Consultation").check()
    page.get_by_role("group", name="Assessment").get_by_label("Substantial").check()
    page.get_by_role("group", name="Who may read it").get_by_label("Public").check()
    page.get_by_label("Published").check()
    page.locator("#source").fill(
        "## Findings\n\nNorway consulted civil society twice a year on licensing criteria.\n"
    )
    follow(page, page.get_by_role("button", name="Save"))

    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator(".metadata")).to_contain_text("Substantial")
    expect(page.locator(".metadata")).to_contain_text("2. Consultation")
    expect(page.get_by_role("heading", name="Findings")).to_be_visible()

    # The review is listed on the state's profile, where readers follow its progress.
    visit(page, "/states/NO")
    expect(page.get_by_role("link", name=TITLE).first).to_be_visible()
