"""The display of reasoning, tool calls and images in the real web UI, in headless Chromium
(screenshots kept in ``$CURATE_ARTIFACTS_DIR``, default ``<repo>/.artifacts``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from curate.review.display import file_layout
from curate.review.push import ensure_dataset, push
from tests.conftest import FIXTURES
from tests.review.ui import artifact, dataset_page

SRC = FIXTURES / "review/display"


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
    d = tmp_path / "display"
    shutil.copytree(SRC, d)
    rows = [json.loads(x) for x in (SRC / "display.jsonl").read_text().splitlines()]
    one = d / f"{rid}.jsonl"
    one.write_text("".join(json.dumps(r) + "\n" for r in rows if r["id"] == rid))
    # the dataset made with every optional field the fixture needs, then this one record
    ensure_dataset(client, dataset_name, None, layout=file_layout(SRC / "display.jsonl"))
    res = push(one, dataset=dataset_name, client=client)
    assert res.pushed == 1
    shot = artifact(f"review-display-{rid}.png")
    with dataset_page(argilla_state, dataset_name, height=1400) as page:
        for text in texts:
            page.get_by_text(text).first.wait_for(timeout=60_000)
        if rid == "d-vision":
            img = page.locator('img[src^="data:image/png;base64,"]').first
            img.wait_for(timeout=60_000)
            assert img.evaluate("i => i.naturalWidth") == 32  # decoded by the browser
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
