"""The local server's web UI, in headless Chromium: sign in, see the pushed dataset, open it.

The screenshot is kept as a test artifact in ``$CURATE_ARTIFACTS_DIR`` (default
``<repo>/.artifacts``): ``review-argilla-ui.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from curate.review.push import push

REPO = Path(__file__).resolve().parents[2]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_web_ui_shows_the_pushed_dataset(
    argilla_state: dict[str, Any], client: Any, chat_file: Path, dataset_name: str
) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is needed: pip install playwright"
    )
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    push(chat_file, dataset=dataset_name, client=client)
    artifacts = Path(os.environ.get("CURATE_ARTIFACTS_DIR", REPO / ".artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "review-argilla-ui.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{argilla_state['url']}/sign-in", wait_until="networkidle")
            page.fill('input[name="Username"]', argilla_state["username"])
            page.fill('input[name="Password"]', argilla_state["password"])
            page.click('button[type="submit"]')
            page.wait_for_url(lambda url: "/sign-in" not in url, timeout=60_000)
            link = page.get_by_text(dataset_name, exact=True).first
            link.wait_for(timeout=60_000)
            link.click()
            page.wait_for_url("**/dataset/**", timeout=60_000)
            # the first pending record, with the validators' suggestion and the questions
            page.get_by_text("Conversation", exact=True).first.wait_for(timeout=60_000)
            page.get_by_text("needs_fix").first.wait_for(timeout=60_000)
            page.get_by_text("You are a concise travel assistant.").first.wait_for(timeout=60_000)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
