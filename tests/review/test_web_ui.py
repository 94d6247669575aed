"""The local server's web UI, in headless Chromium: sign in, see the pushed dataset, open it.

The screenshot is kept as a test artifact in ``$CURATE_ARTIFACTS_DIR`` (default
``<repo>/.artifacts``): ``review-argilla-ui.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curate.review.push import push
from tests.review.ui import artifact, dataset_page


@pytest.mark.slow
def test_web_ui_shows_the_pushed_dataset(
    argilla_state: dict[str, Any], client: Any, chat_file: Path, dataset_name: str
) -> None:
    push(chat_file, dataset=dataset_name, client=client)
    shot = artifact("review-argilla-ui.png")
    with dataset_page(argilla_state, dataset_name) as page:
        # the first pending record, with the validators' suggestion and the questions
        page.get_by_text("Conversation", exact=True).first.wait_for(timeout=60_000)
        page.get_by_text("needs_fix").first.wait_for(timeout=60_000)
        page.get_by_text("You are a concise travel assistant.").first.wait_for(timeout=60_000)
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
