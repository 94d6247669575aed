"""The ``curate`` command line. Each command parses its options and calls the Python
function of the same name (``curate validate`` -> :func:`curate.validate.validate_path`).

Commands other than ``validate`` live in ``curate/cli_<name>.py`` modules, each with a
``register(app)`` function; they are discovered here, so adding one touches no shared file.

Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage or input error.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import curate
from curate.config import load_config
from curate.console import (
    console,
    err_console,
    print_error,
    print_json,
    print_wide,
    progress_bar,
)
from curate.engine.cli import EngineOpt, RayAddressOpt
from curate.options import Epochs, JsonFlag, MaxTokens, Workers
from curate.records import CurateError, Finding, Severity

app = typer.Typer(
    name="curate",
    help="Prepare fine-tuning data for LLMs: ingest, validate, deduplicate, review, split.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # help uses the terminal's width (click stops at 80 columns by default, which cut the
    # command descriptions of `curate --help` with "..." even at 200 columns)
    context_settings={"max_content_width": 1000},
)


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


class Style(str, Enum):
    table = "table"
    compact = "compact"


class Dups(str, Enum):
    none = "none"
    exact = "exact"
    near = "near"


class Target(str, Enum):
    curate = "curate"
    openai = "openai"


def version_callback(value: bool) -> None:
    if value:
        console.print(f"curate {curate.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Prepare fine-tuning data for LLMs: ingest, validate, deduplicate, review, split."""


@app.command()
def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Chat JSONL files to check.", show_default=False)
    ],
    model: Annotated[
        str | None, typer.Option(help="Model to count and price for [default: gpt-4o-mini].")
    ] = None,
    max_tokens: MaxTokens = None,
    epochs: Epochs = None,
    price: Annotated[
        float | None,
        typer.Option(help="USD per 1M training tokens [default: list price].", min=0),
    ] = None,
    target: Annotated[
        Target | None,
        typer.Option(help="curate: provenance keys allowed; openai: only what OpenAI accepts."),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(help="Exit 1 when a finding reaches this severity [default: error]."),
    ] = None,
    json_out: JsonFlag = False,
    style: Annotated[
        Style,
        typer.Option(
            help="table: summary and grouped findings; compact: one file:line per finding."
        ),
    ] = Style.table,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every location, not the first 5 per code.")
    ] = False,
    workers: Workers = None,
    max_findings: Annotated[
        int | None, typer.Option(help="Findings kept in the report (counts stay exact).", min=0)
    ] = None,
    duplicates: Annotated[
        Dups | None,
        typer.Option(help="Duplicate findings: none, exact, or exact and near [default: exact]."),
    ] = None,
    near_threshold: Annotated[
        float | None,
        typer.Option(help="Jaccard threshold for --duplicates near [default: 0.8].", min=0, max=1),
    ] = None,
    content: Annotated[
        bool | None,
        typer.Option(
            "--content/--no-content",
            help="Content checks: secrets, PII, placeholders, refusals, broken text [default: on].",
        ),
    ] = None,
    expectations: Annotated[
        Path | None,
        typer.Option(help="A Great Expectations suite (from curate profile) to check against."),
    ] = None,
    data_docs: Annotated[
        Path | None, typer.Option(help="Write Great Expectations Data Docs HTML here.")
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="Check as the trainer sees it: a tokenizer folder, cached hub name, "
            "mistral:<version> or tiktoken:<encoding>."
        ),
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="The trainer's max_length (with --tokenizer).", min=1)
    ] = None,
    engine: EngineOpt = None,
    ray_address: RayAddressOpt = None,
) -> None:
    """Check chat fine-tuning JSONL: format (OpenAI cookbook parity), length, tokens, cost.

    Example: curate validate fixtures/openai/good.jsonl --model gpt-4o-mini
    """
    from curate.api import validate as run_validate
    from curate.engine import batch_mapper
    from curate.engine.cli import config_for, settle

    engine, ray_address = settle(engine, ray_address, config_for("validate"))

    def note(text: str) -> None:
        err_console.print(f"[dim]note: {escape(text)}[/]", soft_wrap=True)

    total_bytes = sum(p.stat().st_size for p in files if p.is_file())
    with contextlib.ExitStack() as bars:
        mapper = bars.enter_context(batch_mapper(engine, ray_address))
        advance = bars.enter_context(progress_bar(total_bytes, "validating", enabled=not json_out))
        render = None
        if tokenizer is not None or load_config().get("tokenizer") is not None:
            render = bars.enter_context(progress_bar(None, "rendering", enabled=not json_out))
        result = run_validate(
            files,
            model=model,
            max_tokens=max_tokens,
            epochs=epochs,
            price=price,
            target=target.value if target else None,
            fail_on=fail_on.value if fail_on else None,
            workers=workers,
            max_findings=max_findings,
            duplicates=duplicates.value if duplicates else None,
            near_threshold=near_threshold,
            content=content,
            expectations=expectations,
            data_docs=data_docs,
            tokenizer=tokenizer,
            max_length=max_length,
            progress=advance,
            render_progress=render,
            notes=note,
            map_batches=mapper,
        )
    report, code, fail = result.detail, result.extra["exit_code"], result.extra["fail_on"]
    if json_out:
        out = report.to_dict()
        out["fail_on"] = fail
        out["exit_code"] = code
        out["price_source"] = result.extra["price_source"]
        print_json(out)
    elif style is Style.compact:
        print_compact(report)
    else:
        print_report(report, verbose=verbose)
        if code:
            err_console.print(
                f"[bold red]failed[/]: findings at or above '{fail}' (exit 1). "
                "Use --fail-on to change the threshold."
            )
    raise typer.Exit(code)


def print_compact(report: Any) -> None:
    """One ``file:line: severity code: message`` line per finding, then one summary line
    (what editors, CI logs and the pre-commit hook want)."""
    out = sys.stdout
    for f in report.findings:
        out.write(f.format_line() + "\n")
    t = report.total
    more = " (list truncated; see --max-findings)" if t.findings_truncated else ""
    out.write(
        f"curate: {t.n_examples} examples in {len(report.files)} file(s), {t.n_invalid} invalid, "
        f"{sum(t.findings_by_code.values())} findings{more}\n"
    )


def print_report(report: Any, *, verbose: bool = False, per_code: int = 5) -> None:
    """Human output: a summary table, then findings grouped by code with file:line."""
    table = Table(title=None, show_edge=False, header_style="bold")
    rows = report.files + ([report.total] if len(report.files) > 1 else [])
    longest = max((len(rep.file) for rep in rows), default=4)
    for col in (
        "file",
        "examples",
        "valid",
        "invalid",
        "tokens",
        "billing tokens",
        "epochs",
        "est. cost",
    ):
        if col == "file":
            # Paths are never cut with an ellipsis: a user must be able to find the file.
            table.add_column(col, justify="left", overflow="fold", min_width=min(longest, 60))
        else:
            table.add_column(col, justify="right", no_wrap=True)
    for rep in rows:
        b = report.billing(rep)
        table.add_row(
            escape(rep.file),
            f"{rep.n_examples:,}",
            f"{rep.n_valid:,}",
            f"{rep.n_invalid:,}",
            f"{rep.tokens_total:,}",
            f"{b['n_billing_tokens']:,}",
            str(b["epochs"]),
            f"${b['estimated_cost_usd']:,.2f}",
        )
    print_wide(table, needed=longest + 80)
    t = report.total
    console.print(
        f"model {report.model.name} ({report.model.encoding}), max {report.max_tokens:,} tokens "
        f"per example; {t.n_missing_system:,} without a system message, "
        f"{t.n_missing_user:,} without a user message",
        markup=False,
    )
    if not t.findings_by_code:
        console.print("[green]no findings[/]")
        return
    by_code: dict[str, list[Finding]] = {}
    for f in t.findings:
        by_code.setdefault(f.code, []).append(f)
    order = sorted(
        t.findings_by_code,
        key=lambda c: (-(by_code[c][0].severity.rank if by_code.get(c) else 0), c),
    )
    console.print()
    for code in order:
        items = by_code.get(code, [])
        sev = items[0].severity if items else Severity.INFO
        color = {"error": "red", "warning": "yellow", "info": "blue"}[sev.value]
        console.print(
            f"[bold {color}]{sev.value}[/] [bold]{code}[/] ({t.findings_by_code[code]:,})"
        )
        shown = items if verbose else items[:per_code]
        for f in shown:
            idx = f.location.message_index
            where = f"{f.location}" + (f" [message {idx}]" if idx is not None else "")
            console.print(
                f"  {escape(where)}: {escape(f.message)}", highlight=False, soft_wrap=True
            )
        rest = t.findings_by_code[code] - len(shown)
        if rest > 0:
            console.print(f"  ... and {rest:,} more (--verbose lists all)")
        if items and items[0].hint:
            console.print(f"  [dim]fix: {escape(items[0].hint)}[/]", soft_wrap=True)


# -- command discovery and the entry point -------------------------------------------------


def _register_commands() -> None:
    pkg_dir = Path(__file__).parent
    for mod in sorted(pkgutil.iter_modules([str(pkg_dir)]), key=lambda m: m.name):
        if mod.name.startswith("cli_"):
            module = importlib.import_module(f"curate.{mod.name}")
            module.register(app)


_register_commands()


#: what an interrupted command says (every output is written to a temporary name and
#: renamed at the end: see curate.stage.OutputPlan)
INTERRUPTED = (
    "interrupted: no output was replaced (outputs are renamed into place only at the end; "
    "the temporary files were removed)"
)


def _plain_usage_message(e: Any) -> None:
    """Typer checks option values with pydantic, whose message for a bad choice reads
    ``Value error, 'warnings' is not one of 'error', ...``: say it plainly, with the closest
    valid value."""
    import difflib
    import re

    msg = getattr(e, "message", None)
    if not isinstance(msg, str) or not msg.startswith("Value error, "):
        return
    msg = msg.removeprefix("Value error, ")
    if m := re.fullmatch(r"'(.*)' is not one of (.*)\.", msg, re.S):
        choices = re.findall(r"'([^']*)'", m.group(2))
        close = difflib.get_close_matches(m.group(1), choices, n=1)
        msg = f"{m.group(1)!r} is not one of: {', '.join(choices)}."
        if close:
            msg += f" Did you mean {close[0]!r}?"
    e.message = msg


def _readable_help_types() -> None:
    """typer >= 0.2x prints a list parameter's Python type in help (``files...
    <list[Path]>``, ``--keep <list[float]>``); show the element type instead (``files...
    <Path>``, ``--keep <float>...``). Other typer versions are left alone."""
    import re

    try:
        from typer.core import TyperArgument, _TyperParameter
    except ImportError:  # pragma: no cover - older typer
        return
    original = getattr(_TyperParameter, "display_type", None)
    if original is None or getattr(original, "curate", False):  # pragma: no cover
        return

    def display_type(self: Any, ctx: Any) -> Any:
        shown = original(self, ctx)
        m = re.fullmatch(r"<list\[(.*)\]>", shown) if isinstance(shown, str) else None
        if m is None:
            return shown
        return f"<{m.group(1)}>" + ("" if isinstance(self, TyperArgument) else "...")

    display_type.curate = True  # type: ignore[attr-defined]
    _TyperParameter.display_type = display_type  # type: ignore[method-assign]


_readable_help_types()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: no tracebacks for usage or input errors (exit 2)."""
    try:
        from typer import _click as click  # typer's own click (newer typer vendors it)
        from typer.exceptions import Abort
    except ImportError:  # pragma: no cover - older typer uses click itself
        import click  # type: ignore[no-redef]
        from click.exceptions import Abort  # type: ignore[assignment]

    try:
        rv = app(args=argv, prog_name="curate", standalone_mode=False)
        if rv == 130:  # typer turns KeyboardInterrupt (SIGINT, SIGTERM) into exit 130
            print_error(INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else 0)
    except CurateError as e:
        print_error(escape(str(e)))
        sys.exit(2)
    except click.exceptions.ClickException as e:  # usage errors: typer's own display
        from typer import rich_utils

        _plain_usage_message(e)
        rich_utils.rich_format_error(e)
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, Abort):
        print_error(INTERRUPTED)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except Exception as e:
        if os.environ.get("CURATE_DEBUG"):
            raise
        print_error(
            escape(
                f"internal error: {type(e).__name__}: {e}. Re-run with CURATE_DEBUG=1 for the "
                "traceback and report it."
            )
        )
        sys.exit(2)
