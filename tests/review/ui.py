"""Headless Chromium on the local server's web UI, for the review UI tests: sign in and
open a dataset (the test is skipped without Playwright or a Chromium)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chromium

REPO = Path(__file__).resolve().parents[2]


def artifact(name: str) -> Path:
    """Where a screenshot is kept: ``$CURATE_ARTIFACTS_DIR`` (default ``<repo>/.artifacts``)."""
    folder = Path(os.environ.get("CURATE_ARTIFACTS_DIR", REPO / ".artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@contextmanager
def dataset_page(state: dict[str, Any], dataset: str, *, height: int = 800) -> Iterator[Any]:
    """A signed-in page showing ``dataset`` (its first pending record)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is needed: pip install playwright"
    )
    browser_path = chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.goto(f"{state['url']}/sign-in", wait_until="networkidle")
            page.fill('input[name="Username"]', state["username"])
            page.fill('input[name="Password"]', state["password"])
            page.click('button[type="submit"]')
            page.wait_for_url(lambda url: "/sign-in" not in url, timeout=60_000)
            link = page.get_by_text(dataset, exact=True).first
            link.wait_for(timeout=60_000)
            link.click()
            page.wait_for_url("**/dataset/**", timeout=60_000)
            yield page
        finally:
            browser.close()
