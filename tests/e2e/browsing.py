"""Browsing the portal in Chromium, with axe-core checking every page a journey shows.

Journeys move between pages only through `visit` (a URL) and `follow` (a click or a key
that loads a page); both run `axe_check` on the page that arrives. `AxeGuard` watches the
browser's navigations, so a page reached any other way, and never checked, fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urldefrag

import pyotp
from flask import Flask

from portal.auth.services import create_user
from portal.extensions import db
from portal.models import Role
from tests.conftest import PASSWORD, enrol_two_factor, state
from tests.e2e.requirements import skip_module_unless_browser_available

skip_module_unless_browser_available()  # before importing Playwright

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from playwright.sync_api import Locator, Page, expect  # noqa: E402

#: The rules run: WCAG 2.0, 2.1 and 2.2 levels A and AA, and axe's best practices.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
#: Impacts that fail a journey; moderate and minor ones are printed only.
FAILING_IMPACTS = frozenset({"serious", "critical"})

_axe = Axe()


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"][:10]:
            lines.append(f"  at {' '.join(map(str, node['target']))}")
            if node.get("failureSummary"):
                summary = node["failureSummary"].replace("\n", " ")
                lines.append(f"     {summary[:300]}")
    return "\n".join(lines)


def axe_check(page: Page) -> None:
    """Run axe-core on the page; fail on any serious or critical violation."""
    guard = AxeGuard.of(page)
    if guard.javascript:
        results = _axe.run(page, options=AXE_OPTIONS).response
    else:
        results = _axe_without_javascript(page)
    violations = results["violations"]
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    minor = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    if minor:
        print(f"axe, not failing, on {page.url}:\n{_describe(minor)}")
    guard.checked(page.url)
    assert not failing, f"axe found serious or critical problems on {page.url}:\n" + _describe(
        failing
    )


def _axe_without_javascript(page: Page) -> dict:
    """axe needs JavaScript: check the same HTML, at the same URL, in a page that has it.

    The mirror page receives the HTML the browser without JavaScript received, with the
    portal's stylesheets; the portal's scripts are kept out.
    """
    browser = page.context.browser
    assert browser is not None
    html, url = page.content(), page.url
    context = browser.new_context(
        viewport=page.viewport_size, locale="en-GB", base_url=urldefrag(url).url
    )
    try:
        mirror = context.new_page()
        mirror.route("**/*.js", lambda route: route.abort())
        mirror.route(
            urldefrag(url).url,
            lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
        )
        mirror.goto(url)
        return _axe.run(mirror, options=AXE_OPTIONS).response
    finally:
        context.close()


def visit(page: Page, path: str) -> Page:
    """Open `path` (relative to the portal) and check the page with axe."""
    response = page.goto(path)
    assert response is not None and response.ok, f"GET {path}: {response and response.status}"
    axe_check(page)
    return page


def follow(page: Page, target: Locator, key: str | None = None) -> Page:
    """Click `target` (or press `key` in it) to load another page, then check it with axe."""
    with page.expect_navigation():
        if key:
            target.press(key)
        else:
            target.click()
    axe_check(page)
    return page


@dataclass
class AxeGuard:
    """Remembers pages the browser loaded that axe has not checked yet."""

    page: Page
    javascript: bool = True
    unchecked: str | None = None
    missed: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page, javascript: bool = True) -> AxeGuard:
        """Start watching `page` (`javascript`: whether its context runs scripts)."""
        guard = cls(page, javascript)
        # "load" fires for each new document, not for moves within one (#fragment links).
        page.on("load", guard._loaded)
        page._axe_guard = guard  # type: ignore[attr-defined]
        return guard

    @staticmethod
    def of(page: Page) -> AxeGuard:
        """The guard watching `page`."""
        return page._axe_guard  # type: ignore[attr-defined]

    def _loaded(self, page: Page) -> None:
        if page.url == "about:blank":
            return
        if self.unchecked is not None:
            self.missed.append(self.unchecked)
        self.unchecked = urldefrag(page.url).url

    def checked(self, url: str) -> None:
        """axe has checked the page at `url`."""
        if self.unchecked == urldefrag(url).url:
            self.unchecked = None

    def problems(self) -> list[str]:
        """Pages that were shown and never checked."""
        return self.missed + ([self.unchecked] if self.unchecked else [])


@dataclass(frozen=True)
class Account:
    """An account the journeys sign in with."""

    email: str
    password: str
    name: str
    totp_secret: str | None = None


@dataclass
class Site:
    """The running portal, and a way to open accounts on it."""

    url: str
    app: Flask
    accounts_opened: int = 0

    def account(self, role: str, state_code: str | None = None, name: str = "") -> Account:
        """A new approved account; government and secretariat ones with two-factor sign-in.

        Each sign-in uses a new account: a TOTP code is accepted once, so signing the same
        account in twice would mean waiting for the next 30-second step.
        """
        role_ = Role(role)
        self.accounts_opened += 1
        count = self.accounts_opened
        with self.app.app_context():
            user = create_user(
                f"{role}.{count}@e2e.example.org",
                name=name or f"{role_.label} tester {count}",
                role=role_,
                password=PASSWORD,
                state=state(state_code) if state_code else None,
                organisation="Example Rights Watch" if role_ is Role.CIVIL_SOCIETY else None,
            )
            db.session.commit()
            if role_ in (Role.GOVERNMENT, Role.SECRETARIAT):
                enrol_two_factor(user)
            account = Account(user.email, PASSWORD, user.name, user.totp_secret)
            db.session.remove()
        return account


def sign_in(page: Page, account: Account) -> None:
    """Sign in through the pages: password, then the authenticator's code when asked."""
    visit(page, "/auth/sign-in")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    follow(page, page.locator("main").get_by_role("button", name="Sign in"))
    if account.totp_secret:
        expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor sign-in")
        page.get_by_label("Code").fill(pyotp.TOTP(account.totp_secret).now())
        follow(page, page.locator("main").get_by_role("button", name="Sign in"))
    expect(page.get_by_text(f"Signed in as {account.name}.")).to_be_visible()
