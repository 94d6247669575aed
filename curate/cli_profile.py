"""``curate profile``: learn a starter Great Expectations suite from data you trust.

The Python twin is :func:`curate.expectations.profile`; check new data against the suite
with ``curate validate NEW.jsonl --expectations suite.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.options import MaxTokens


def profile_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Chat JSONL, Parquet files or HF save_to_disk folders.", show_default=False
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the suite JSON.")],
    model: Annotated[str, typer.Option(help="Model to count tokens and the context share for.")] = (
        "gpt-4o-mini"
    ),
    max_tokens: MaxTokens = None,
    name: Annotated[str, typer.Option(help="The suite's name.")] = "curate",
    relative: Annotated[
        float, typer.Option(help="Allowed relative move of means, quantiles, ranges.", min=0)
    ] = 0.25,
    proportion: Annotated[
        float, typer.Option(help="Allowed absolute move of a proportion.", min=0, max=1)
    ] = 0.1,
    kl: Annotated[
        float, typer.Option("--kl", help="Largest KL divergence of the source mix.", min=0)
    ] = 0.1,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary object.")
    ] = False,
) -> None:
    """Learn a starter expectation suite (ranges, quantiles, proportions, sources) from good data.

    Example: curate profile fixtures/expectations/clean.jsonl -o suite.json
    """
    from curate.api import profile
    from curate.console import console, print_json
    from curate.expectations import Tolerance

    suite = profile(
        inputs,
        output,
        model=model,
        max_tokens=max_tokens,
        name=name,
        tolerance=Tolerance(relative=relative, proportion=proportion, kl_divergence=kl),
    ).detail
    n = suite["meta"]["curate"]["profiled_examples"]
    if json_out:
        print_json(
            {
                "output": str(output),
                "profiled_examples": n,
                "n_expectations": len(suite["expectations"]),
                "expectations": sorted({e["type"] for e in suite["expectations"]}),
            }
        )
    else:
        console.print(
            f"wrote {output}: {len(suite['expectations'])} expectations learned from {n:,} "
            f"examples. Check new data with: curate validate NEW --expectations {output}",
            markup=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command("profile")(profile_command)
