from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def content_fixture_texts(fixtures: Path) -> list[str]:
    """Every string ``content`` of the messages in fixtures/content/*.jsonl, in file order."""
    out = []
    for f in sorted((fixtures / "content").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            for m in json.loads(line).get("messages", []):
                if isinstance(m.get("content"), str):
                    out.append(m["content"])
    return out
