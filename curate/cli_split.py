"""``curate split`` and ``curate run``: thin wrappers over :func:`curate.split.split_path`
and :func:`curate.pipeline.run_config` (the same option names)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from curate.console import console, err_console, print_json, progress_bar
from curate.engine.cli import EngineOpt, RayAddressOpt
from curate.options import Workers, with_config


def split(
    ctx: typer.Context,
    input: Annotated[Path, typer.Argument(help="Canonical chat JSONL (as curate ingest writes).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the split and manifest.")
    ],
    eval_fraction: Annotated[
        float | None,
        typer.Option(help="Share of examples in eval (default 0.1 without --eval-size)."),
    ] = None,
    eval_size: Annotated[
        int | None, typer.Option(help="Number of examples in eval.", min=1)
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Assignment seed (same seed + input = same bytes).")
    ] = 0,
    group_by: Annotated[
        str,
        typer.Option(
            help="Keep together: both (duplicate clusters and prompts), cluster, prompt, none."
        ),
    ] = "both",
    near: Annotated[
        bool, typer.Option(help="Also group near-duplicates (MinHash, as curate dedup finds them).")
    ] = True,
    near_threshold: Annotated[float, typer.Option(help="Jaccard similarity for --near.")] = 0.8,
    stratify_by: Annotated[
        str | None,
        typer.Option(help="tokens (length bucket) or a field path: source.format, metadata.lang."),
    ] = None,
    method: Annotated[
        str, typer.Option(help="hash (stable when data is added) or sklearn (shuffle splitters).")
    ] = "hash",
    format: Annotated[
        str, typer.Option("--format", "-f", help="openai, hf, trl, sharegpt or alpaca.")
    ] = "openai",
    trl_shape: Annotated[
        str, typer.Option(help="--format trl: messages or prompt-completion.")
    ] = "messages",
    model: Annotated[
        str, typer.Option(help="Model whose tokenizer counts tokens.")
    ] = "gpt-4o-mini",
    kind: Annotated[
        str,
        typer.Option(
            help="auto (the majority), sft or preference: the kind of record to export; "
            "the other kind is rejected (mixed_kinds)."
        ),
    ] = "auto",
    reasoning: Annotated[
        str,
        typer.Option(
            help="Assistant reasoning_content: auto (trl/hf keep the field, sharegpt/alpaca "
            "inline <think>, openai rejects: cannot_carry_reasoning), inline, drop, reject."
        ),
    ] = "auto",
    media: Annotated[
        str,
        typer.Option(
            help="Local images/audio/video: copy (into OUTDIR/media/), rewrite (paths "
            "relative to OUTDIR) or embed (data: URIs; openai needs it for local images)."
        ),
    ] = "copy",
    workers: Workers = None,
    engine: EngineOpt = None,
    ray_address: RayAddressOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Split into train and eval sets that share no duplicate or prompt, in a trainer's format.

    Example: curate split data/clean.jsonl -o out --eval-fraction 0.1 --format openai
    """
    from curate.engine import split as run_split
    from curate.engine.cli import config_for, settle
    from curate.split import SplitOptions, check_input

    engine, ray_address = settle(engine, ray_address, config_for("split"))
    given = {
        "eval_fraction": eval_fraction,
        "eval_size": eval_size,
        "seed": seed,
        "group_by": group_by,
        "near": near,
        "near_threshold": near_threshold,
        "stratify_by": stratify_by,
        "method": method,
        "format": format,
        "trl_shape": trl_shape,
        "model": model,
        "kind": kind,
        "reasoning": reasoning,
        "media": media,
        "workers": workers,
    }
    opts = SplitOptions(**with_config(ctx, "split", given))
    opts.check()
    check_input(input)
    lines = _count_lines(input) if not json_out else None
    with progress_bar(lines, "splitting (2 passes)", enabled=not json_out) as advance:
        manifest = run_split(input, output, opts, engine=engine, ray_address=ray_address,
                             progress=advance)  # fmt: skip
    if json_out:
        print_json(manifest)
    else:
        print_split_summary(manifest, output)


def _count_lines(path: Path) -> int | None:
    if path.suffix in (".gz", ".bz2", ".xz", ".zst"):
        return None
    from curate.io import source_file

    n = 0
    with open(source_file(path), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n


def print_split_summary(m: dict[str, Any], outdir: Path) -> None:
    c, t, g, leak = m["counts"], m["tokens"], m["groups"], m["leakage"]
    console.print(
        f"read {c['read']:,}: train {c['train']:,} ({t['train']:,} tokens), "
        f"eval {c['eval']:,} ({t['eval']:,} tokens; target {c['eval_target']:,}), "
        f"rejected {c['rejected']:,}",
        markup=False,
    )
    console.print(
        f"groups {g['total']:,} ({g['multi_example']:,} with more than one example, "
        f"largest {g['largest']:,}); near-duplicates {g['near_duplicates']}",
        markup=False,
    )
    console.print(
        f"straddling groups {leak['groups_straddling']}, shared duplicate keys "
        f"{leak['shared_duplicate_keys']}, shared prompts {leak['shared_prompts']}",
        markup=False,
    )
    carried = _carried_line(m.get("carried") or {})
    if carried:
        console.print(f"carried {carried}", markup=False, soft_wrap=True)
    for reason, n in c["rejected_by_reason"].items():
        err_console.print(
            f"  rejected {reason}: {n:,} (see {outdir / 'rejected.jsonl'})", markup=False
        )
    console.print(
        f"wrote {', '.join(m['files'])} and manifest.json to {outdir}",
        markup=False,
        soft_wrap=True,  # one line; the terminal folds it (a pipe or log keeps it whole)
    )
    if m["trainer_configs"]:
        console.print(f"trainer config: {', '.join(m['trainer_configs'])}", markup=False)


def _carried_line(carried: dict[str, Any]) -> str:
    """What the export carried, for the summary: only what the data holds."""
    r, t, md = carried.get("reasoning", {}), carried.get("tools", {}), carried.get("media", {})
    parts = []
    n = r.get("messages_carried", 0)
    if n:
        parts.append(f"reasoning {n:,} ({r['as']})")
    if r.get("messages_dropped"):
        parts.append(f"reasoning dropped {r['messages_dropped']:,}")
    if t.get("tool_calls") or t.get("records_with_tools"):
        parts.append(f"tool calls {t.get('tool_calls', 0):,}")
    w = carried.get("weights", {})
    if w.get("messages_dropped"):
        parts.append(
            f"message weights dropped {w['messages_dropped']:,} "
            f"({w.get('zero_weight_dropped', 0):,} of them 0: those turns are now trained)"
        )
    for kind in ("images", "audios", "videos"):
        if md.get(kind):
            parts.append(f"{kind} {md[kind]:,}")
    if md.get("media_files_copied"):
        parts.append(f"media/ {md['media_files_copied']:,} files")
    return ", ".join(parts)


def run(
    config: Annotated[Path, typer.Argument(help="Pipeline config (TOML); see docs/split.md.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    engine: EngineOpt = None,
    ray_address: RayAddressOpt = None,
) -> None:
    """Run ingest -> validate -> dedup -> (review pull) -> split from a config file.

    Example: curate run fixtures/run/curate.toml
    """
    from curate.pipeline import run_config

    summary = run_config(config, engine=engine, ray_address=ray_address)
    if json_out:
        print_json(summary)
    else:
        print_run_summary(summary)
    raise typer.Exit(summary["exit_code"])


def print_run_summary(s: dict[str, Any]) -> None:
    for stage in s["stages"]:
        counts = ", ".join(
            f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in stage["counts"].items()
        )
        status = stage["status"]
        color = {"ok": "green", "skipped": "dim", "failed": "red"}.get(status, "yellow")
        console.print(f"[{color}]{status:>7}[/] {stage['name']:<9} {counts}", soft_wrap=True)
        if stage.get("output"):
            console.print(f"          -> {stage['output']}", markup=False, soft_wrap=True)
        if stage.get("message"):
            console.print(f"          {stage['message']}", markup=False, soft_wrap=True)
    if s["exit_code"]:
        err_console.print(f"[bold red]stopped[/]: {s['stopped_at']} (exit {s['exit_code']})")


def register(app: typer.Typer) -> None:
    app.command("split")(split)
    app.command("run")(run)
