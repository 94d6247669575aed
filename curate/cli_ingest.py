"""``curate ingest``: every common fine-tuning format in, canonical chat JSONL out.

Calls :func:`curate.ingest.ingest_paths` with the same parameter names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from curate.console import console, err_console, print_json, progress_bar
from curate.options import JsonFlag, with_config
from curate.records import InputError


def parse_maps(values: list[str] | None) -> dict[str, str]:
    """``["user=question", "assistant=answer"]`` -> ``{"user": "question", ...}``.

    Example:
        >>> parse_maps(["user=q", "assistant=a=b"])
        {'user': 'q', 'assistant': 'a=b'}
    """
    out: dict[str, str] = {}
    for v in values or []:
        target, sep, column = v.partition("=")
        if not sep or not target.strip() or not column:
            raise InputError(f"--map {v!r}: expected TARGET=COLUMN, e.g. --map user=question")
        if target.strip() in out:
            raise InputError(f"--map {target.strip()} given twice")
        out[target.strip()] = column
    return out


def _list_formats(value: bool) -> None:
    if not value:
        return
    from curate.ingest.base import get, names

    for n in names():
        console.print(f"{n:20} {get(n).description}", markup=False, highlight=False)
    raise typer.Exit(0)


def ingest(
    ctx: typer.Context,
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files, globs or directories (.jsonl .json .csv .tsv .parquet .arrow, "
            "maybe .gz/.bz2/.xz/.zst; saved Hugging Face datasets).",
            show_default=False,
            metavar="SRC...",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Canonical chat JSONL to write.")],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Force a format (--list-formats) [default: detect]."),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Rejected records with reasons [default: OUT.rejected.jsonl]."),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Column map for tables: --map user=COL --map assistant=COL [--map system=COL].",
        ),
    ] = None,
    system: Annotated[
        str | None, typer.Option(help="System prompt added to examples that have none.")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Split of a saved Hugging Face DatasetDict.")
    ] = None,
    media_dir: Annotated[
        Path | None,
        typer.Option(
            "--media-dir",
            help="Folder relative media paths (images/videos/audios) are looked up in first "
            "(LLaMA-Factory's media_dir) [default: each source file's folder].",
        ),
    ] = None,
    allow_rejects: Annotated[
        bool, typer.Option("--allow-rejects", help="Exit 0 even when records were rejected.")
    ] = False,
    json_out: JsonFlag = False,
    list_formats: Annotated[
        bool,
        typer.Option(
            "--list-formats",
            help="List the formats and exit.",
            is_eager=True,
            callback=_list_formats,
        ),
    ] = False,
) -> None:
    """Convert fine-tuning data (OpenAI, Alpaca, ShareGPT, Dolly, TRL, DPO, tables) into
    canonical chat JSONL with ids and provenance; unconvertible records go to a rejects file.

    Exit codes: 0 all written, 1 some records rejected (see --allow-rejects), 2 input error.

    Example: curate ingest data/ -o train.jsonl --json
    """
    from curate.ingest import FileResult, ingest_paths

    # [tool.curate.ingest] for what the command line does not give (--map wins as a whole)
    given = with_config(
        ctx,
        "ingest",
        {
            "format": format,
            "system": system,
            "split": split,
            "maps": parse_maps(map_) or None,
            "media_dir": media_dir,
        },
    )
    format, system, split, maps = given["format"], given["system"], given["split"], given["maps"]
    media_dir = given["media_dir"]
    with progress_bar(None, "ingesting records", enabled=not json_out) as advance:

        def on_file(res: FileResult) -> None:
            if json_out:
                return
            if res.format is None:
                err_console.print(f"{res.file}: empty, no records", markup=False)
                return
            err_console.print(
                f"{res.file}: {res.format} ({res.reason}); read {res.read:,}, "
                f"written {res.written:,}, rejected {res.rejected:,}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

        report = ingest_paths(
            sources,
            output,
            format=format,
            rejects=rejects,
            maps=maps,
            system=system,
            split=split,
            on_file=on_file,
            progress=advance,
            media_dir=media_dir,
        )
    code = 1 if report.rejected and not allow_rejects else 0
    if json_out:
        print_json(report.to_dict())
    else:
        for line in skipped_lines(report.skipped):
            err_console.print(line, markup=False, soft_wrap=True)
        console.print(
            f"read {report.read:,}, written {report.written:,} to {report.output}, "
            f"rejected {report.rejected:,}" + (f" to {report.rejects}" if report.rejects else ""),
            markup=False,
            highlight=False,
        )
        for reason, n in sorted(report.by_reason.items()):
            console.print(f"  {reason}: {n:,}", markup=False)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


#: extensions of media files that sit beside the data in a folder (the records point at them)
MEDIA_EXTENSIONS = frozenset(
    ".jpg .jpeg .png .gif .webp .bmp .tif .tiff .mp4 .avi .mov .mkv .webm .wav .mp3 .flac "
    ".ogg .m4a".split()
)


def skipped_lines(skipped: list[str], *, limit: int = 10) -> list[str]:
    """What ``curate ingest`` prints about the files a folder held that are not data: media
    files in one line (a multimodal folder holds thousands), others one per line up to
    ``limit`` (``--json`` lists them all).

    Example:
        >>> skipped_lines(["d/a.jpg", "d/b.jpg", "d/c.png", "d/notes.md"])
        ['d/notes.md: skipped', 'skipped 3 media files (.jpg 2, .png 1): the records refer to them']
    """
    from collections import Counter

    media = Counter(
        ext for ext in (os.path.splitext(s)[1].lower() for s in skipped) if ext in MEDIA_EXTENSIONS
    )
    other = [s for s in skipped if os.path.splitext(s)[1].lower() not in MEDIA_EXTENSIONS]
    lines = [f"{s}: skipped" for s in other[:limit]]
    if len(other) > limit:
        lines.append(f"... and {len(other) - limit:,} more skipped (--json lists them)")
    if media:
        kinds = ", ".join(f"{ext} {n:,}" for ext, n in media.most_common())
        n = sum(media.values())
        lines.append(
            f"skipped {n:,} media file{'s' if n > 1 else ''} ({kinds}): the records refer to them"
        )
    return lines
