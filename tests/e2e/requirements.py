"""What the browser tests need: Chromium (E2E_CHROMIUM overrides its path) and Playwright."""

from __future__ import annotations

import importlib.util
import os

import pytest

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    for module in ("playwright", "axe_playwright_python"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[test]')"
    return None


def skip_module_unless_browser_available() -> None:
    """Skip the importing test module, with the reason, when a requirement is missing."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason, allow_module_level=True)
