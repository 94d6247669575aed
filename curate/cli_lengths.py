"""``curate lengths``: the token-length distribution as the trainer sees it, and the
``max_length`` to choose. A thin wrapper over :func:`curate.trainer.scan` and
:meth:`curate.trainer.view.Scan.summary`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from curate.console import console, err_console, print_json, progress_bar
from curate.options import JsonFlag


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def lengths(
    files: Annotated[
        list[Path],
        typer.Argument(help="Chat JSONL files (canonical messages).", show_default=False),
    ],
    tokenizer: Annotated[
        str,
        typer.Option(
            help="A tokenizer folder, a hub name in the local Hugging Face cache, "
            "mistral:<version> (v1, v2, v3, v3-tekken, tekken, v7) or tiktoken:<encoding>.",
            show_default=False,
        ),
    ],
    keep: Annotated[
        list[float] | None,
        typer.Option(
            help="Share of examples to keep whole; repeat for several [default: 0.95 0.99 1.0].",
            min=0.0001,
            max=1.0,
        ),
    ] = None,
    max_length: Annotated[
        int | None,
        typer.Option(help="Also show what this max_length costs.", min=1),
    ] = None,
    rows: Annotated[
        Path | None,
        typer.Option(
            help="Write one JSON line per example here (file, line, tokens, trainable, "
            "truncated, trainable_after_truncation, findings)."
        ),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Token lengths as the trainer renders them, and a max_length that keeps a chosen
    share of examples whole (with the tokens lost at each choice and a packing estimate).

    Example: curate lengths data.jsonl --tokenizer mistral:v3 --keep 0.95 --keep 0.99
    """
    from curate.io import check_readable, dumps
    from curate.stage import OutputPlan
    from curate.trainer import load_tokenizer, scan

    for f in files:
        check_readable(f)
    plan = OutputPlan(files, "lengths")
    if rows is not None:
        plan.add("rows", rows)
    shares = sorted(set(keep)) if keep else [0.95, 0.99, 1.0]
    tok = load_tokenizer(tokenizer)
    with contextlib.ExitStack() as stack:
        stack.enter_context(plan.writing())
        on_row = None
        if rows is not None:
            out = plan.open("rows")

            def on_row(row: dict[str, Any]) -> None:
                out.write(dumps(row) + "\n")

        advance = stack.enter_context(progress_bar(None, "rendering", enabled=not json_out))
        findings, result = scan(
            [str(f) for f in files], tok, max_length=max_length, progress=advance, on_row=on_row
        )
        plan.commit()
    summary = result.summary(shares=shares)
    # lines that are no example at all, or no conversation, are bad input: say where and
    # exit 1 (the distribution leaves them out); run curate validate for the full list
    bad = result.n_unreadable + result.n_skipped
    code = 1 if bad else 0
    if json_out:
        summary["files"] = [str(f) for f in files]
        print_json(summary)
        raise typer.Exit(code)
    _print(summary, [str(f) for f in files])
    if result.n_preference:
        console.print(
            f"{result.n_preference:,} preference (DPO) record(s) left out: only chat "
            "conversations are measured"
        )
    if bad:
        err_console.print(
            f"[red]{bad:,} line(s) not counted: not a readable chat example[/] (first: "
            f"{escape(result.first_problem or '?')}). Run curate validate on the file for the "
            "full list.",
        )
    if result.n_template_errors:
        first = next(f for f in findings if f.code == "template_error")
        console.print(
            f"[yellow]{result.n_template_errors:,} example(s) not counted: the template rejects "
            f"them[/] (first: {escape(first.format_line())}). Run curate validate "
            f"--tokenizer {escape(tokenizer)} for the full list.",
        )
    raise typer.Exit(code)


def _print(summary: dict[str, Any], files: list[str]) -> None:
    console.print(
        f"{summary['n_rendered']:,} examples from {len(files)} file(s), tokenizer "
        f"{escape(summary['tokenizer'])} ({summary['kind']}, trainable tokens from "
        f"{', '.join(summary['mask_source']) or '-'})"
    )
    if not summary["n_rendered"]:
        console.print("no example could be rendered")
        return
    dist = Table(show_edge=False, header_style="bold")
    dist.add_column("tokens per example")
    cols = ("min", "mean", "p50", "p90", "p95", "p99", "max", "total")
    for c in cols:
        dist.add_column(c, justify="right")
    for label, key in (("all", "tokens"), ("trainable", "trainable_tokens")):
        dist.add_row(label, *(_fmt(summary[key][c]) for c in cols))
    console.print(dist)
    rows = list(summary["suggestions"])
    if "truncation" in summary:
        t = summary["truncation"]
        rows.append({"keep": None, **t, "rounded": t["max_length"]})
    sug = Table(show_edge=False, header_style="bold", title=None)
    for c in (
        "keep",
        "max_len",
        "rounded",
        "cut ex.",
        "tok lost",
        "train lost",
        "no train",
        "rows",
        "packed",
        "padded",
    ):
        sug.add_column(c, justify="right")
    for r in rows:
        p = r.get("packing") or {}
        sug.add_row(
            f"{r['keep']:.0%}" if r["keep"] is not None else "(given)",
            f"{r['max_length']:,}",
            f"{r['rounded']:,}",
            f"{r['examples_truncated']:,}",
            f"{r['tokens_lost']:,}",
            f"{r['trainable_lost']:,}",
            f"{r['examples_left_untrainable']:,}",
            f"{p['rows_packed']:,}" if p else "-",
            f"{p['packed_efficiency']:.1%}" if p else "-",
            f"{p['padded_efficiency']:.1%}" if p else "-",
        )
    console.print(sug)
    best = summary["suggestions"][0]
    console.print(
        f"suggested: max_length={best['max_length']:,} (or {best['rounded']:,}) keeps "
        f"{best['share_whole']:.1%} of examples whole; with packing, rows are "
        f"~{best['packing']['packed_efficiency']:.0%} real tokens."
    )


def register(app: typer.Typer) -> None:
    app.command("lengths")(lengths)
