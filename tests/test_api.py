"""curate.api: the library functions the CLI and curate run call, reachable as curate.X."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

import curate
from curate.stage import StageResult


@pytest.mark.parametrize("name", ["dedup", "ingest", "redact", "report", "split", "validate"])
def test_the_name_is_the_function_even_after_its_module_is_imported(name: str) -> None:
    importlib.import_module(f"curate.{name}")  # the package attribute is now the module
    assert callable(getattr(curate, name))


def test_one_path_a_string_or_a_list(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(10)
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for given in (p, str(p), [p]):
        r = curate.validate(given, config={}, content=False)
        assert isinstance(r, StageResult) and r.counts.read == 10
    r = curate.ingest(p, tmp_path / "o.jsonl", config={})
    assert (r.counts.read, r.counts.kept) == (10, 10)
    r = curate.split(tmp_path / "o.jsonl", tmp_path / "s", config={}, eval_size=2, near=False)
    assert (r.counts.kept, r.counts.rejected) == (10, 0)
    assert r.outputs["manifest.json"] == tmp_path / "s" / "manifest.json"
    r = curate.dedup(tmp_path / "o.jsonl", tmp_path / "d.jsonl", config={})
    assert r.counts.read == r.counts.kept + r.counts.rejected + r.counts.deduplicated == 10
