"""What the browser tests share: Debian's Chromium, a page of it, small page actions (fixtures: conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


@contextmanager
def chromium_page(default_timeout_ms: int = 30_000) -> Iterator:
    """A page of a fresh headless Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(default_timeout_ms)
        try:
            yield page
        finally:
            browser.close()


def pick(page, elem_id: str, text: str) -> None:
    """Choose the option showing ``text`` in the dropdown ``elem_id``."""
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=text).first.click()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
