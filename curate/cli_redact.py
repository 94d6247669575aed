"""``curate redact``: mask secrets and personal data into a new file, with an audit.

The Python twin is :func:`curate.redact.redact_path`. The rules and allowed roles come
from ``[tool.curate.content]`` in the nearest ``pyproject.toml`` (the same table
``curate validate`` reads), so what validate reports is what redact masks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def redact_command(
    source: Annotated[
        Path, typer.Argument(help="JSONL file to redact (left untouched).", show_default=False)
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the redacted JSONL.")
    ],
    audit: Annotated[
        Path | None,
        typer.Option(help="Where to log every change [default: OUTPUT.redactions.jsonl]."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON summary object.")] = (
        False
    ),
) -> None:
    """Mask secrets and personal data (<EMAIL>, <SECRET>...) into a new file and log each change.

    Example: curate redact fixtures/content/pii.jsonl -o pii.redacted.jsonl
    """
    from curate.config import load_config
    from curate.console import console, print_json
    from curate.records import CurateError
    from curate.redact import redact_path

    config = load_config().get("content", {})
    try:
        rep = redact_path(source, output, audit=audit, config=config)
    except ValueError as e:
        raise CurateError(str(e)) from e
    if json_out:
        print_json(rep.to_dict())
        return
    by_code = ", ".join(f"{c} {n}" for c, n in rep.by_code.items()) or "nothing found"
    console.print(
        f"wrote {rep.output}: {rep.n_written:,} of {rep.n_read:,} lines, "
        f"{rep.n_changes:,} change(s) in {rep.n_changed_records:,} record(s) ({by_code}). "
        f"Audit: {rep.audit}",
        markup=False,
        soft_wrap=True,
    )
    if rep.n_unparsed:
        console.print(
            f"note: {rep.n_unparsed} line(s) were not valid JSON and were redacted as text",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.command("redact")(redact_command)
