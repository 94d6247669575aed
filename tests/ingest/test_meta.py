"""Meta-tests: every format has fixtures and docs, every reject reason is documented."""

from __future__ import annotations

import pytest

from curate.ingest import REASONS, names
from curate.ingest.base import get
from tests.ingest.helpers import FIXTURES, ROOT, run

DOC = (ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
#: fixtures/openai/ belongs to the validators; ingest's own chat fixtures live beside it
FOLDER = {"openai": "openai_chat"}


@pytest.mark.parametrize("name", names())
def test_every_format_has_fixtures_that_ingest_as_that_format(name: str) -> None:
    folder = FIXTURES / FOLDER.get(name, name)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert files, f"no fixtures in {folder}"
    if name not in ("text", "columns"):
        assert any("bad" in p.name for p in files), f"{folder} has no bad fixture"
    maps = {"user": "question", "assistant": "answer"} if name == "columns" else None
    for p in files:
        if name == "columns" and p.suffix == ".tsv":
            continue  # other column names, covered in test_columns
        good, bad = run(p, maps=maps)
        assert {r["source"]["format"] for r in good} | {r.source.format for r in bad} == {name}


@pytest.mark.parametrize("name", names())
def test_every_format_is_documented(name: str) -> None:
    assert f"| `{name}` |" in DOC
    assert get(name).description


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reject_reason_is_documented(reason: str) -> None:
    assert f"| `{reason}` |" in DOC
