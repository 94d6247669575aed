"""docs/trainer.md's worked example of ``template_dropped_reasoning`` prints what the docs
show (Qwen3's chat template, driven through transformers, offline)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from curate.trainer import trainer_view

ROOT = Path(__file__).resolve().parents[2]
DATA = "fixtures/trainer/reasoning.jsonl"


def _shown() -> list[str]:
    doc = (ROOT / "docs" / "trainer.md").read_text()
    section = doc.split("### Reasoning the template leaves out", 1)[1]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1).rstrip("\n").splitlines()


def test_the_worked_example_prints_what_the_docs_show(tok_dirs: dict[str, Path]) -> None:
    cmd = [sys.executable, "-c", "from curate.cli import main; main()", "validate", DATA]
    done = subprocess.run(
        [*cmd, "--tokenizer", str(tok_dirs["qwen3"])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "100"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = [ln.rstrip() for ln in done.stdout.splitlines()]
    shown = _shown()
    start = lines.index(shown[0])
    assert lines[start : start + len(shown)] == shown
    assert f"{DATA}:2" not in done.stdout  # the one-turn example keeps its trace


def test_mistral_v7_drops_both_traces_of_the_example() -> None:
    findings, _ = trainer_view([str(ROOT / DATA)], tokenizer="mistral:v7")
    assert [(f.code, f.location.line) for f in findings] == [
        ("template_dropped_reasoning", 1),
        ("template_dropped_reasoning", 2),
    ]
    assert all("reasoning chat template" in (f.hint or "") for f in findings)


def test_the_reasoning_finding_is_in_the_findings_table() -> None:
    doc = (ROOT / "docs" / "trainer.md").read_text()
    assert "| `template_dropped_reasoning` | warning |" in doc
