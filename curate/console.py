"""Terminal helpers shared by every command: consoles, progress bars, JSON output.

Progress bars go to stderr and only when stderr is a terminal (never in pipes or CI), so
machine-readable stdout stays clean.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from rich.console import Console

_plain = not sys.stdout.isatty()
console = Console(width=120 if _plain else None, soft_wrap=False, highlight=False)
err_console = Console(stderr=True, width=120 if not sys.stderr.isatty() else None, highlight=False)


def print_wide(renderable: Any, *, needed: int) -> None:
    """Print a table on stdout; in pipes the width grows to ``needed`` so nothing is cut.

    A terminal keeps its own width (columns fold instead); a pipe or CI log has no width,
    so a long path would otherwise be shortened with an ellipsis.
    """
    if _plain and needed > (console.width or 0):
        Console(width=needed, soft_wrap=False, highlight=False, file=console.file).print(renderable)
    else:
        console.print(renderable)


def interactive() -> bool:
    """True when a progress bar may be drawn: stderr is a terminal and not in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


@contextlib.contextmanager
def progress_bar(
    total: int | None, description: str, *, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A context yielding ``advance(n)``; draws a rich bar on an interactive stderr only.

    Example:
        >>> with progress_bar(10, "demo", enabled=False) as advance:
        ...     advance(10)
    """
    if not (enabled and interactive()):
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n: prog.advance(task, n)


#: indented like ``json.dumps(indent=2)``; dataclasses and datetimes go to ``str`` as the
#: standard library's ``default=str`` sent them (orjson would write its own forms)
_ORJSON_OPTIONS = (
    orjson.OPT_INDENT_2
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def json_text(obj: Any) -> str:
    """``obj`` as indented JSON text (UTF-8 characters kept, unknown types as ``str``).

    orjson writes it (a report of 10,000 findings took ~0.3 s in ``json.dumps`` at the end
    of a run, ~0.01 s here); what orjson refuses (an integer over 64 bits) goes through
    the standard library. Not-a-number floats come out as ``null``, which is valid JSON,
    and a float in exponent form as ``1.5e-7`` (``json.dumps``: ``1.5e-07``; the same
    value).

    Example:
        >>> print(json_text({"a": [1, 2.5], "b": "é"}))
        {
          "a": [
            1,
            2.5
          ],
          "b": "é"
        }
    """
    try:
        return orjson.dumps(obj, default=str, option=_ORJSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (UTF-8, no rich markup)."""
    sys.stdout.write(json_text(obj))
    sys.stdout.write("\n")
    sys.stdout.flush()


def print_error(message: str) -> None:
    err_console.print(
        f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True
    )
