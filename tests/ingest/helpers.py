"""Shared helpers for the ingest tests (not a test module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curate.ingest import IngestOptions, read
from curate.records import Example, Rejected

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def run(path: Path | str, **kw: Any) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """Read a file: the canonical records written and the rejects."""
    good: list[dict[str, Any]] = []
    bad: list[Rejected] = []
    for item in read(path, **kw):
        if isinstance(item, Example):
            good.append(item.data)
        else:
            bad.append(item)
    return good, bad


def reasons(rejects: list[Rejected]) -> list[tuple[int | None, str]]:
    return [(r.source.line or r.source.row, r.reason) for r in rejects]


def roles(rec: dict[str, Any]) -> list[str]:
    return [m["role"] for m in rec["messages"]]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


OPTS = IngestOptions()
