"""``curate dedup``: remove exact and near duplicates, and decontaminate against eval sets.

Example: curate dedup train.jsonl -o train.dedup.jsonl --against eval.jsonl
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from curate.console import console, err_console, print_json, progress_bar
from curate.engine.cli import EngineOpt, RayAddressOpt
from curate.options import JsonFlag, Workers, with_config
from curate.records import CurateError


class Scope(str, Enum):
    conversation = "conversation"
    user = "user"
    assistant = "assistant"


class Keep(str, Enum):
    longest = "longest"
    first = "first"


class Reasoning(str, Enum):
    exclude = "exclude"
    include = "include"


def dedup(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="Chat JSONL files (one corpus).", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Kept examples (byte for byte). Omit for a dry run."),
    ] = None,
    against: Annotated[
        list[Path] | None,
        typer.Option(
            "--against",
            help="Held-out/benchmark JSONL: remove training examples that duplicate them "
            "(repeatable).",
        ),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Removed lines with reasons [default: OUT.rejected.jsonl]."),
    ] = None,
    clusters: Annotated[
        Path | None,
        typer.Option(help="One line per duplicate cluster [default: OUT.clusters.jsonl]."),
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Jaccard similarity for near duplicates.", min=0.01, max=1.0)
    ] = 0.8,
    scope: Annotated[
        Scope, typer.Option(help="Compare whole conversations, user turns or assistant turns.")
    ] = Scope.conversation,
    near: Annotated[
        bool, typer.Option("--near/--exact-only", help="Also remove near duplicates.")
    ] = True,
    containment: Annotated[
        bool,
        typer.Option(
            "--containment/--no-containment",
            help="Remove a conversation whose turns are a contiguous run of another's "
            "(the longer one is kept).",
        ),
    ] = True,
    keep: Annotated[
        Keep,
        typer.Option(
            help="Which copy of a cluster is kept: longest = most turns, then longest "
            "assistant text, then first in the input; first = first in the input.",
        ),
    ] = Keep.longest,
    reasoning: Annotated[
        Reasoning,
        typer.Option(
            help="Assistant reasoning traces (reasoning_content, <think> blocks): exclude = "
            "compare prompt and answer only (the same answer with another trace is a "
            "duplicate); include = compare the traces too. Either way the copy with more "
            "reasoning is preferred by --keep longest.",
        ),
    ] = Reasoning.exclude,
    within: Annotated[
        bool,
        typer.Option(
            "--dedup/--decontaminate-only",
            help="Also remove duplicates within the inputs (not only those of --against).",
        ),
    ] = True,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations.", min=8, max=1024)] = 128,
    shingle: Annotated[int, typer.Option(help="Words per shingle.", min=1, max=16)] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the MinHash functions.", min=0)] = 0,
    workers: Workers = None,
    engine: EngineOpt = None,
    ray_address: RayAddressOpt = None,
    allow_invalid: Annotated[
        bool,
        typer.Option(
            "--allow-invalid",
            help="Exit 0 even when some lines are unreadable (they go to the rejects file).",
        ),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Remove exact and near-duplicate examples and contained conversations.

    Exact: same text after Unicode NFKC, case folding and whitespace collapsing. Near:
    MinHash LSH over word 3-grams, each pair verified by its exact Jaccard; every removed
    example is at or above --threshold against the kept one it is attributed to.
    Contained: a conversation whose turns are a contiguous run of a longer one's (the
    longer one is kept). Of each cluster the example with the most turns, then the
    longest assistant text (reasoning traces count), then the first is kept (--keep
    first: the first). Reasoning traces are not compared (--reasoning include compares
    them). With --against, training examples that match any held-out example are
    removed as contaminated.

    Example: curate dedup train.jsonl -o train.dedup.jsonl --against eval.jsonl --json
    """
    from curate.engine import dedup as dedup_paths
    from curate.engine.cli import config_for, settle

    engine, ray_address = settle(engine, ray_address, config_for("dedup"))
    # [tool.curate.dedup] for what the command line does not give
    cfg = with_config(
        ctx,
        "dedup",
        {
            "threshold": threshold,
            "scope": scope.value,
            "near": near,
            "containment": containment,
            "keep": keep.value,
            "reasoning": reasoning.value,
            "num_perm": num_perm,
            "shingle": shingle,
            "seed": seed,
            "workers": workers,
            "against": [str(a) for a in against] if against else None,
        },
    )
    against = [Path(a) for a in cfg["against"] or []]
    from curate.dedup.run import reasoning_kwargs

    # the default is every engine's; another value only where the engine takes it
    extra = reasoning_kwargs(cfg["reasoning"], engine)
    total = sum(p.stat().st_size for p in [*files, *(against or [])] if p.is_file())
    try:
        with progress_bar(total, "deduplicating", enabled=not json_out) as advance:
            s = dedup_paths(
                files,
                output,
                against=against,
                rejects=rejects,
                clusters=clusters,
                threshold=cfg["threshold"],
                scope=cfg["scope"],
                near=cfg["near"],
                containment=cfg["containment"],
                keep=cfg["keep"],
                num_perm=cfg["num_perm"],
                shingle=cfg["shingle"],
                seed=cfg["seed"],
                dedup=within,
                workers=cfg["workers"],
                progress=advance,
                engine=engine,
                ray_address=ray_address,
                **extra,
            )
    except ValueError as e:
        raise CurateError(str(e)) from e
    except OSError as e:  # an output that cannot be written (read errors are InputError)
        raise CurateError(f"{e.filename or 'output'}: cannot write: {e.strerror or e}") from e
    bad = s.removed_invalid + s.reference_invalid
    code = 1 if bad and not allow_invalid else 0
    if json_out:
        print_json(s.to_dict())
        _invalid_note(s, bad)
        raise typer.Exit(code)
    console.print(
        f"read {s.read}: kept {s.kept}, removed {s.removed_exact} exact, {s.removed_near} near, "
        f"{s.removed_contained} contained, {s.removed_contaminated} contaminated, "
        f"{s.removed_invalid} unreadable; {s.clusters} clusters; "
        f"{s.conflicting_answers} prompts with conflicting answers",
        markup=False,
        soft_wrap=True,
    )
    for f in s.findings:  # large clusters: worth a look before the data is gone
        console.print(f"warning: {f.location}: {f.message}", markup=False, soft_wrap=True)
    if s.against:
        console.print(f"checked against {s.reference_read} held-out examples")
    for label, path in (("kept", s.output), ("rejects", s.rejects), ("clusters", s.clusters_file)):
        if path:
            console.print(f"{label}: {path}")
    if not s.output:
        console.print("dry run: pass -o OUT to write the kept examples")
    _invalid_note(s, bad)
    raise typer.Exit(code)


def _invalid_note(s: Any, bad: int) -> None:
    """Unreadable lines are bad input: name the first one and where they all went."""
    if not bad:
        return
    where = f" (with their reasons in {s.rejects})" if s.rejects and s.removed_invalid else ""
    err_console.print(
        f"{bad:,} unreadable line(s) not deduplicated{where}; first: {s.first_invalid}. "
        "Run curate validate on the file to see why; --allow-invalid exits 0.",
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("dedup")(dedup)
