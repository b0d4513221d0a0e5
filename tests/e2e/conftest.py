"""Browser journeys: a live server with the canonical content, Chromium, one context per test.

Every test module is skipped, with the reason shown, when Chromium or Playwright is missing
(tests/e2e/requirements.py; E2E_CHROMIUM points at another Chromium binary). The server runs
on the suite's database (SQLite file, or TEST_DATABASE_URL), emptied and loaded with content/
once for the package. A failed test leaves a full-page screenshot and the page's HTML in
tests/e2e/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from portal import create_app
from portal.content import load_content
from portal.extensions import db
from portal.search import deferred_indexing
from tests.conftest import CONTENT_DIR, empty_tables
from tests.e2e.requirements import CHROMIUM
from tests.live_server import live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.e2e.browsing import Site

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.fixture(scope="package")
def site(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The portal served by a multi-worker server on a fresh database holding content/."""
    from tests.e2e.browsing import Site

    work = tmp_path_factory.mktemp("e2e")
    settings = {"CONTENT_DIR": str(CONTENT_DIR), "FILES_DIR": str(work / "files")}
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "SEARCH_INDEX_DIR": str(work / "loader-index"),
            **settings,
        }
    )
    with app.app_context():
        empty_tables()
        with deferred_indexing():
            report = load_content(CONTENT_DIR)
        assert not report.errors, report.errors
        db.session.remove()
        db.engine.dispose()
    # The server builds its own search index from the database as it starts.
    with live_server(database_url, work / "index", work, workers=3, **settings) as server:
        yield Site(server.url, app)
    app.extensions["search"].close()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole package."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Keep each phase's report on the test, so fixtures know whether it failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_REPORTS, {})
    return any(report.failed for report in reports.values())


def _save_artifacts(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    try:
        page.screenshot(path=ARTIFACTS / f"{stem}.png", full_page=True)
        (ARTIFACTS / f"{stem}.html").write_text(page.content())
    except Exception as error:  # the page may have crashed: keep the test's own failure
        print(f"could not save artifacts of {name}: {error}")


@pytest.fixture
def new_page(
    browser: Browser, site: Site, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """new_page(**context_options): a page in a fresh browser context (own cookies)."""
    from tests.e2e.browsing import AxeGuard

    contexts = []

    def make(**options: object) -> Page:
        options = {"locale": "en-GB", "viewport": {"width": 1280, "height": 900}, **options}
        context = browser.new_context(base_url=site.url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        AxeGuard.attach(page, javascript=bool(options.get("java_script_enabled", True)))
        return page

    yield make
    failed = _failed(request)
    unchecked: list[str] = []
    for number, context in enumerate(contexts):
        for page in context.pages:
            if failed:
                _save_artifacts(page, request.node.name + (f"-{number}" if number else ""))
            unchecked += AxeGuard.of(page).problems()
        context.close()
    if unchecked and not failed:
        pytest.fail(f"pages shown without an axe check (use visit or follow): {unchecked}")


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A page in a fresh browser context, 1280 px wide, JavaScript on."""
    return new_page()
