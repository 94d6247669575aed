"""Options from ``[tool.curate]`` in the nearest ``pyproject.toml``.

Keys mirror the CLI options with underscores (``max_tokens``, ``fail_on``...). The CLI
wins over the file. Top-level keys are ``curate validate``'s; the sections
``[tool.curate.ingest|split|dedup|review|validate|content]`` are read by the command of
their name. Every key is checked (:mod:`curate.settings`): an unknown key, a section no
command reads or a value of the wrong type is an error, so a typo does not pass silently.

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
from curate.settings import check_pyproject

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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
    checked = check_pyproject(section, str(path))
    checked["_path"] = str(path)
    return checked
