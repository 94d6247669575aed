"""``curate report``: write one self-contained HTML page about a dataset.

The Python twin is :func:`curate.report.write_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.options import Epochs, MaxTokens


def report_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Chat JSONL, Parquet files or HF save_to_disk folders.", show_default=False
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    model: Annotated[
        str, typer.Option(help="Model to count, limit and price for.")
    ] = "gpt-4o-mini",
    max_tokens: MaxTokens = None,
    epochs: Epochs = None,
    price: Annotated[
        float | None, typer.Option(help="USD per 1M training tokens for --model.", min=0)
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Also print the report data as JSON.")
    ] = False,
) -> None:
    """Write an offline HTML report: tokens, cost per model, histograms, mix, findings, duplicates.

    Example: curate report fixtures/expectations/clean.jsonl -o report.html
    """
    from curate.console import console, print_json
    from curate.report import write_report

    data = write_report(
        [str(p) for p in inputs],
        output,
        model=model,
        max_tokens=max_tokens,
        epochs=epochs,
        price=price,
    )
    if json_out:
        out = {k: v for k, v in data.items() if k not in ("tokens_values", "turns_values")}
        out["output"] = str(output)
        print_json(out)
    else:
        s = data["summary"]
        console.print(
            f"wrote {output}: {s['n_examples']:,} examples, {s['tokens_total']:,} tokens, "
            f"findings: {data['findings']['total']:,}, "
            f"duplicate clusters: {data['duplicates']['n_clusters']:,}",
            markup=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
