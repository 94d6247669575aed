"""The display of reasoning, tool calls and images in the real web UI, in headless Chromium
(screenshots kept in ``$CURATE_ARTIFACTS_DIR``, default ``<repo>/.artifacts``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from curate.review.display import file_layout
from curate.review.push import ensure_dataset, push
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[2]
SRC = FIXTURES / "review/display"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rid", "texts"),
    [
        ("d-vision", ["Image 1", "in the Image 1 field"]),
        ("d-reason", ["Reasoning (each assistant turn", "── assistant turn 2 (message 4) ──"]),
        ("d-tools", ["[tool call get_weather (id call_2)]", "Declared tools"]),
    ],
)
def test_web_ui_shows_images_reasoning_and_tools(
    argilla_state: dict[str, Any],
    client: Any,
    dataset_name: str,
    tmp_path: Path,
    rid: str,
    texts: list[str],
) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is needed: pip install playwright"
    )
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    d = tmp_path / "display"
    shutil.copytree(SRC, d)
    rows = [json.loads(x) for x in (SRC / "display.jsonl").read_text().splitlines()]
    one = d / f"{rid}.jsonl"
    one.write_text("".join(json.dumps(r) + "\n" for r in rows if r["id"] == rid))
    # the dataset made with every optional field the fixture needs, then this one record
    ensure_dataset(client, dataset_name, None, layout=file_layout(SRC / "display.jsonl"))
    res = push(one, dataset=dataset_name, client=client)
    assert res.pushed == 1
    artifacts = Path(os.environ.get("CURATE_ARTIFACTS_DIR", REPO / ".artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / f"review-display-{rid}.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(f"{argilla_state['url']}/sign-in", wait_until="networkidle")
            page.fill('input[name="Username"]', argilla_state["username"])
            page.fill('input[name="Password"]', argilla_state["password"])
            page.click('button[type="submit"]')
            page.wait_for_url(lambda url: "/sign-in" not in url, timeout=60_000)
            link = page.get_by_text(dataset_name, exact=True).first
            link.wait_for(timeout=60_000)
            link.click()
            page.wait_for_url("**/dataset/**", timeout=60_000)
            for text in texts:
                page.get_by_text(text).first.wait_for(timeout=60_000)
            if rid == "d-vision":
                img = page.locator('img[src^="data:image/png;base64,"]').first
                img.wait_for(timeout=60_000)
                assert img.evaluate("i => i.naturalWidth") == 32  # decoded by the browser
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
