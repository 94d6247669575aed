"""Options from ``[tool.curate]`` in the nearest ``pyproject.toml``.

Keys mirror the CLI options with underscores (``max_tokens``, ``fail_on``...). The CLI
wins over the file. An unknown key is an error, so a typo does not pass silently.

Example (``pyproject.toml``)::

    [tool.curate]
    model = "gpt-4.1-mini"
    max_tokens = 8192
    fail_on = "warning"

    [tool.curate.prices]   # USD per 1M training tokens, overrides the built-in table
    "gpt-4.1-mini" = 5.0
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from curate.records import CurateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: keys ``[tool.curate]`` may hold, per command section or at the top
KNOWN_KEYS = frozenset(
    {
        "model",
        "max_tokens",
        "epochs",
        "price",
        "prices",
        "target",
        "fail_on",
        "workers",
        "max_findings",
        "duplicates",
        "near_threshold",
        "content_checks",
        "expectations_suite",
        "tokenizer",
        "max_length",
        # sections owned by other commands
        "validate",
        "ingest",
        "dedup",
        "split",
        "review",
        "content",
        "expectations",
        "trainer",
        "report",
        "run",
    }
)


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None) -> dict[str, Any]:
    """``[tool.curate]`` of the nearest ``pyproject.toml``, or ``{}``."""
    path = find_pyproject(start)
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CurateError(f"{path}: cannot read [tool.curate]: {e}") from e
    section = data.get("tool", {}).get("curate", {})
    if not isinstance(section, dict):
        raise CurateError(f"{path}: [tool.curate] must be a table")
    unknown = sorted(set(section) - KNOWN_KEYS)
    if unknown:
        raise CurateError(
            f"{path}: unknown key(s) in [tool.curate]: {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(KNOWN_KEYS))}."
        )
    section = dict(section)
    section["_path"] = str(path)
    return section
