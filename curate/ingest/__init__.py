"""Ingest: every common fine-tuning format in, one canonical chat JSONL out.

- :func:`read` streams one file as :class:`~curate.records.Example` (canonical record with
  ``id`` and ``source``) or :class:`~curate.records.Rejected` items, one per input record.
- :func:`detect` names the format of some records, and why.
- :func:`ingest_paths` is ``curate ingest``: files, globs and directories in, one JSONL out
  (plus a rejects file), atomically, with the counts.

Formats live in a registry (:mod:`curate.ingest.base`); each is one small module.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> src = os.path.join(d, "a.json")
    >>> _ = open(src, "w").write('[{"instruction": "Hi", "input": "", "output": "Hello"}]')
    >>> [ex.data["messages"][1]["content"] for ex in read(src)]
    ['Hello']
    >>> rep = ingest_paths([src], os.path.join(d, "out.jsonl"))
    >>> rep.read, rep.written, rep.rejected, dict(rep.by_format)
    (1, 1, 0, {'alpaca': 1})
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.ingest.base import (
    REASONS,
    REGISTRY,
    BaseIngestor,
    IngestOptions,
    Ingestor,
    Reject,
    get,
    names,
    register,
)
from curate.ingest.readers import Raw, Source, expand, read_raw
from curate.ingest.reasoning import split_assistant_messages
from curate.records import Example, InputError, Location, Rejected, content_id

__all__ = [
    "REASONS",
    "REGISTRY",
    "BaseIngestor",
    "Detection",
    "FileResult",
    "IngestOptions",
    "IngestReport",
    "Ingestor",
    "Reject",
    "convert",
    "convert_batch",
    "detect",
    "get",
    "ingest_paths",
    "names",
    "read",
    "register",
]

#: records looked at to detect a file's format
SAMPLE = 50
#: records per batch handed to :func:`convert_batch`
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Detection:
    """The format chosen for a file and why (``"keys instruction, output in 20 of 20
    sampled records"``)."""

    format: str
    reason: str


def _keys_text(keys: Iterable[str]) -> str:
    return ", ".join(sorted(keys))


def detect(records: Sequence[Any], file: str = "<input>") -> Detection:
    """Pick the format that fits the most of ``records`` (raw input records).

    A format fits a record whose keys include all of its ``required`` keys and none of its
    ``excluded`` ones. Among formats fitting the same number of records, one whose required
    keys include all the others' wins (``sharegpt_preference`` over ``sharegpt``); otherwise
    the input is ambiguous. Fallback formats (``text``) only count when nothing else fits.

    Raises:
        InputError: no record is an object, no format fits, or two fit equally.

    Example:
        >>> detect([{"instruction": "a", "input": "", "output": "b"}]).format
        'alpaca'
        >>> detect([{"instruction": "a", "output": "b", "response": "c"}], "x.jsonl")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        curate.records.InputError: x.jsonl: ambiguous format: the records fit alpaca ... dolly ...
    """
    objs = [r for r in records if isinstance(r, dict)]
    if not objs:
        raise InputError(
            f"{file}: cannot detect the format: none of the first {len(records)} records is a "
            "JSON object. Check that the file is JSON/JSONL/CSV/Parquet with one example per "
            "record."
        )
    names()  # load the built-in formats
    key_sets = [frozenset(str(k) for k in r) for r in objs]
    for fallback in (False, True):
        scores: dict[str, int] = {}
        for name, ing in REGISTRY.items():
            if bool(ing.fallback) != fallback or not ing.required:
                continue
            n = sum(1 for r, ks in zip(objs, key_sets, strict=True) if _fits(ing, ks, r))
            if n:
                scores[name] = n
        if not scores:
            continue
        best = max(scores.values())
        cands = sorted(n for n, s in scores.items() if s == best)
        if len(cands) > 1:
            widest = [
                c for c in cands if all(REGISTRY[o].required <= REGISTRY[c].required for o in cands)
            ]
            if len(widest) != 1:
                listed = " and ".join(f"{c} ({_keys_text(REGISTRY[c].required)})" for c in cands)
                options = " or ".join(f"--format {c}" for c in cands)
                raise InputError(
                    f"{file}: ambiguous format: the records fit {listed}. Pass {options}."
                )
            cands = widest
        name = cands[0]
        shape = getattr(REGISTRY[name], "shape", "")
        why = f"keys {_keys_text(REGISTRY[name].required)}{shape} in {best} of {len(objs)} sampled"
        why += " records"
        return Detection(name, why)
    known = "; ".join(
        f"{n} ({_keys_text(REGISTRY[n].required)})" for n in names() if REGISTRY[n].required
    )
    raise InputError(
        f"{file}: unknown format: the first record has keys {_keys_text(key_sets[0]) or '(none)'}. "
        f"Known formats: {known}. Pass --format NAME, or map columns with "
        "--map user=COLUMN --map assistant=COLUMN."
    )


def _fits(ing: Ingestor, keys: frozenset[str], record: Any = None) -> bool:
    """``ing``'s keys fit, and its optional ``fits(record)`` shape test agrees (two formats
    with the same keys, such as OpenAI chat and LLaMA-Factory v1, are told apart by it)."""
    if not (ing.required <= keys and not (ing.excluded & keys)):
        return False
    shape_test = getattr(ing, "fits", None)
    return shape_test is None or record is None or bool(shape_test(record))


def convert(raw: Raw, ingestor: Ingestor, options: IngestOptions) -> Example | Rejected:
    """One raw record to a canonical :class:`Example` (``id``, the format's fields,
    ``metadata``, ``source``) or a :class:`Rejected` with a reason code. Pure: safe to run
    over batches in worker processes.

    Example:
        >>> raw = Raw(Location("a.jsonl", 3), {"prompt": "Hi", "completion": "Hello"})
        >>> ex = convert(raw, get("prompt_completion"), IngestOptions())
        >>> list(ex.data), ex.data["source"]["line"], ex.data["source"]["format"]
        (['id', 'messages', 'source'], 3, 'prompt_completion')
    """
    loc = Location(raw.loc.file, raw.loc.line, raw.loc.row, None, ingestor.name)
    if raw.error is not None:
        return Rejected(loc, raw.error[0], raw.error[1], raw.record)
    rec = raw.record
    if not isinstance(rec, dict):
        return Rejected(loc, "not_an_object", f"record is a JSON {_type(rec)}, not an object", rec)
    try:
        body = ingestor.convert(rec, options)
        if isinstance(body.get("messages"), list):
            # every format: a leading <think> block of an answer becomes its reasoning_content
            split_assistant_messages(body["messages"])
        _media_paths(body, rec, raw.loc.file, options)
    except Reject as r:
        return Rejected(loc, r.reason, r.message, rec)
    except InputError:
        raise
    except RecursionError:
        return Rejected(loc, "nested_too_deep", "record is nested too deeply to convert", rec)
    except Exception as e:  # a bug in a converter must not lose the record
        return Rejected(loc, "conversion_error", f"{type(e).__name__}: {e}", rec)
    try:
        cid = content_id(body)
    except RecursionError:
        return Rejected(loc, "nested_too_deep", "record is nested too deeply to hash", rec)
    except (TypeError, ValueError) as e:
        return Rejected(loc, "conversion_error", f"not JSON-serialisable: {e}", rec)
    meta = body.get("metadata")
    if isinstance(meta, dict) and meta.get("id") == cid:
        del meta["id"]  # curate's own id, from re-ingesting curate output
        if not meta:
            del body["metadata"]
    source = loc.to_dict()
    source.update(getattr(ingestor, "provenance", None) or {})  # e.g. a dataset_info.json name
    data = {"id": cid, **body, "source": source}
    return Example(data, loc, cid)


def _media_paths(
    body: dict[str, Any], record: dict[str, Any], source: str, options: IngestOptions
) -> None:
    """Media columns a format left in ``metadata`` (Alpaca, Dolly, TRL preference with an
    ``images`` list) attached as media parts; then relative media paths made relative to
    the output's folder (docs/ingest.md, Media)."""
    if "messages" not in body and "input" not in body:
        return
    from curate.ingest.media import attach, column_items, media_keys, rewrite_paths

    meta = body.get("metadata")
    left = [k for k in media_keys(record) if isinstance(meta, dict) and k in meta]
    if left:
        attach(body, column_items({k: record[k] for k in left}))
        for k in left:
            del meta[k]
        if not meta:
            del body["metadata"]
    rewrite_paths(body, source, options.output, options.media_dir)


def _with_media(
    options: IngestOptions, output: str | None, media_dir: str | os.PathLike[str] | None
) -> IngestOptions:
    import dataclasses

    if media_dir is not None and not os.path.isdir(media_dir):
        raise InputError(
            f"--media-dir {media_dir}: not a folder. Give the folder relative media paths "
            "are relative to (LLaMA-Factory's media_dir)."
        )
    md = str(media_dir) if media_dir is not None else None
    return dataclasses.replace(options, output=output, media_dir=md)


def convert_batch(
    raws: Sequence[Raw], format: str | Ingestor, options: IngestOptions
) -> list[tuple[str, str | None]]:
    """Convert a batch of raw records and serialise them: one ``(json_line, reason)`` per
    record, ``reason`` ``None`` for an example and the reject code for a rejects line. Pure
    and picklable, so it runs in worker processes (or ``ray.data`` ``map_batches``).

    Example:
        >>> raws = [Raw(Location("a.jsonl", 1), {"prompt": "Hi", "completion": "Yo"}),
        ...         Raw(Location("a.jsonl", 2), {"prompt": "Hi"})]
        >>> [reason for _, reason in convert_batch(raws, "prompt_completion", IngestOptions())]
        [None, 'missing_field']
    """
    from curate.io import dumps, dumps_strict, finite

    ingestor = get(format) if isinstance(format, str) else format
    out: list[tuple[str, str | None]] = []
    for raw in raws:
        item = convert(raw, ingestor, options)
        if isinstance(item, Example):
            try:
                out.append((dumps_strict(item.data), None))
                continue
            except ValueError:
                item = Rejected(
                    item.source,
                    "non_finite_number",
                    "record holds NaN, Infinity or a number too large for a double (1e400): "
                    "strict JSON readers (orjson, OpenAI's uploader) refuse it",
                    raw.record,
                )
        out.append((dumps(finite(item.to_dict())), item.reason))
    return out


def _type(v: Any) -> str:
    from curate.ingest.base import json_type

    return json_type(v)


def _peek(raws: Iterator[Raw], n: int) -> tuple[list[Raw], Iterator[Raw]]:
    head = list(itertools.islice(raws, n))
    return head, itertools.chain(head, raws)


def _options(
    maps: Mapping[str, str] | None, system: str | None, format: str | None
) -> tuple[IngestOptions, str | None]:
    from curate.ingest.columns import check_maps

    maps = dict(maps or {})
    if maps:
        if format not in (None, "columns"):
            raise InputError(f"--map only works with the columns format, not --format {format}")
        check_maps(maps)
        format = "columns"
    elif format == "columns":
        check_maps(maps)
    if format is not None:
        get(format)  # unknown names fail before anything is read
    return IngestOptions(maps=maps, system=system or None), format


def _open(
    source: Source, format: str | None, options: IngestOptions
) -> tuple[Detection | None, Iterator[Raw]]:
    raws = read_raw(source.path, source.kind, split=source.split)
    head, raws = _peek(raws, SAMPLE)
    if not head:
        return None, iter(())
    if format is not None:
        det = Detection(
            format, "--map given" if format == "columns" and options.maps else "--format given"
        )
    else:
        if not any(r.error is None for r in head):
            bad = head[0]
            raise InputError(
                f"{bad.loc}: cannot detect the format: none of the first {len(head)} records "
                f"parses ({bad.error[1] if bad.error else 'unreadable'})."
            )
        det = detect([r.record for r in head if r.error is None], source.path)
    get(det.format)
    if det.format == "columns":
        first = next(
            (r.record for r in head if r.error is None and isinstance(r.record, dict)), None
        )
        if first is not None:
            missing = [c for c in options.maps.values() if c not in first]
            if missing:
                target = next(t for t, c in options.maps.items() if c == missing[0])
                raise InputError(
                    f'{source.path}: column "{missing[0]}" not found (have: '
                    f"{_keys_text(first)}). Pass --map {target}=COLUMN with one of them."
                )
    return det, raws


def read(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    maps: Mapping[str, str] | None = None,
    system: str | None = None,
    split: str | None = None,
    media_dir: str | os.PathLike[str] | None = None,
) -> Iterator[Example | Rejected]:
    """Stream one file, glob or directory as canonical examples or rejects (one item per
    input record). The Python twin of ``curate ingest`` without the writing.

    Args:
        path: a file (any supported container, maybe compressed), glob or directory.
        format: force a format (see :func:`curate.ingest.base.names`); default: detect.
        maps: column map for tables (``{"user": "question", "assistant": "answer"}``).
        system: system prompt added to examples without one.
        split: split of a saved Hugging Face ``DatasetDict``.
        media_dir: folder relative media paths are looked up in first; media urls stay
            relative to the source file's folder (there is no output).

    Raises:
        InputError: unreadable input, unknown or ambiguous format.
    """
    options, fmt = _options(maps, system, format)
    options = _with_media(options, None, media_dir)
    from curate.ingest import dataset_info

    infos, rest = dataset_info.take([str(path)])
    for entry in (e for info in infos for e in info.entries):  # a LLaMA-Factory data folder
        opts = dataset_info.entry_options(entry, options)
        for src in entry.sources(split):
            yield from (convert(r, entry.ingestor, opts) for r in dataset_info.read_source(src))
    sources, _ = expand(rest, split=split) if rest else ([], [])
    for src in sources:
        det, raws = _open(src, fmt, options)
        if det is not None:
            ingestor = get(det.format)
            yield from (convert(r, ingestor, options) for r in raws)


@dataclass
class FileResult:
    """Counts for one input file."""

    file: str
    format: str | None
    reason: str
    read: int = 0
    written: int = 0
    rejected: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "detected_because": self.reason,
            "read": self.read,
            "written": self.written,
            "rejected": self.rejected,
        }


@dataclass
class IngestReport:
    """What :func:`ingest_paths` did. ``read == written + rejected`` always."""

    output: str
    rejects: str | None
    files: list[FileResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    by_format: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    written: int = 0
    rejected: int = 0
    counts: Any = None  # curate.stage.Counts, read counted as records arrive

    @property
    def read(self) -> int:
        return self.counts.read if self.counts is not None else self.written + self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "written": self.written,
            "rejected": self.rejected,
            "by_format": dict(sorted(self.by_format.items())),
            "by_reason": dict(sorted(self.by_reason.items())),
            "output": self.output,
            "rejects": self.rejects,
            "files": [f.to_dict() for f in self.files],
            "skipped": self.skipped,
        }


def default_rejects_path(output: str | os.PathLike[str]) -> Path:
    """``data/train.jsonl`` -> ``data/train.rejected.jsonl`` (the one rejects name of
    every stage: :func:`curate.stage.rejects_path`).

    Example:
        >>> str(default_rejects_path("out/train.jsonl"))
        'out/train.rejected.jsonl'
    """
    from curate.stage import rejects_path

    return rejects_path(output)


def ingest_paths(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    format: str | None = None,
    rejects: str | os.PathLike[str] | None = None,
    maps: Mapping[str, str] | None = None,
    system: str | None = None,
    split: str | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    progress: Callable[[int], None] | None = None,
    exclude_under: str | os.PathLike[str] | None = None,
    media_dir: str | os.PathLike[str] | None = None,
) -> IngestReport:
    """Ingest files, globs and directories into one canonical chat JSONL; the Python twin
    of ``curate ingest``.

    Output and rejects are planned and committed together (:class:`curate.stage.OutputPlan`:
    neither may be an input or each other; nothing is replaced unless the whole run
    succeeds); the rejects file is only written when something was rejected (a stale one
    from an earlier run is removed). Files are read in the order given (directories and
    globs sorted), so a re-run over the same inputs writes byte-identical output.

    Args:
        paths: inputs (a path, or a list of files of any supported container, globs,
            directories, saved datasets).
        output: the JSONL to write.
        format: force a format for every file; default: detect per file.
        rejects: where rejects go (default: ``OUT.rejected.jsonl`` beside the output).
        maps: column map (implies the ``columns`` format).
        system: system prompt added to examples without one.
        split: split of saved Hugging Face ``DatasetDict`` inputs.
        on_file: called with each file's counts when it is done (progress, logging).
        progress: called with the number of records read, as reading advances.
        exclude_under: a folder whose files are never inputs (a pipeline's workdir, so
            that a glob over it does not read the pipeline's own outputs); they are
            listed as skipped.
        media_dir: a folder relative media paths are looked up in before the source
            file's folder (LLaMA-Factory's ``media_dir``); either way they are written
            relative to the output's folder.

    Raises:
        InputError: unreadable input, unknown or ambiguous format, output equal to an input.
    """
    from curate.stage import Counts, OutputPlan

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    options, fmt = _options(maps, system, format)
    out_path = Path(output)
    options = _with_media(options, str(out_path), media_dir)
    rej_path = Path(rejects) if rejects is not None else default_rejects_path(out_path)
    if out_path.name.lower().endswith((".gz", ".bz2", ".xz", ".zst")):
        raise InputError(f"{output}: curate writes plain JSONL; name it .jsonl and compress later")
    from curate.ingest import dataset_info

    # LLaMA-Factory data folders: each dataset of their dataset_info.json, as it declares
    infos, rest = dataset_info.take([str(p) for p in paths])
    if infos and (fmt is not None or options.maps):
        raise InputError(
            f"{infos[0].path}: --format and --map do not apply to a dataset_info.json folder "
            "(each dataset declares its formatting and columns there); pass its files "
            "directly to force a format"
        )
    sources, skipped = expand(rest, split=split, exclude={out_path, rej_path}) if rest else ([], [])
    entries = [e for info in infos for e in info.entries]
    skipped += [s for info in infos for s in info.skipped]
    if exclude_under is not None:
        under = os.path.realpath(exclude_under) + os.sep
        skipped += [s.path for s in sources if os.path.realpath(s.path).startswith(under)]
        sources = [s for s in sources if not os.path.realpath(s.path).startswith(under)]
    work: list[tuple[Source, Any]] = [(s, None) for s in sources]
    work += [(s, e) for e in entries for s in e.sources(split)]
    if not work:
        raise InputError(
            f"{', '.join(str(p) for p in paths)}: no input files found"
            + (f" (skipped: {', '.join(skipped[:5])})" if skipped else "")
            + ". Pass .jsonl, .json, .csv, .tsv, .parquet or .arrow files or a saved dataset."
        )
    plan = OutputPlan([s.path for s, _ in work], "ingest")
    plan.add("output", out_path)
    plan.add("rejects", rej_path)
    report = IngestReport(str(out_path), None, skipped=skipped)
    counts = Counts()

    def counted(raws: Iterator[Raw]) -> Iterator[Raw]:
        for r in raws:
            counts.read += 1
            yield r

    with plan.writing():
        out = plan.open("output")
        for src, entry in work:
            ing: str | Ingestor | None
            if entry is None:
                det, raws = _open(src, fmt, options)
                ing, opts = (det.format if det else None), options
            else:  # a dataset of a dataset_info.json
                det = Detection(entry.ingestor.name, entry.reason)
                raws = dataset_info.read_source(src)
                ing, opts = entry.ingestor, dataset_info.entry_options(entry, options)
            res = FileResult(src.path, det.format if det else None, det.reason if det else "empty")
            report.files.append(res)
            if det is None:
                if on_file is not None:
                    on_file(res)
                continue
            assert ing is not None
            for batch in _batched(counted(raws), ing, opts):
                if progress is not None:
                    progress(len(batch))
                for line, reason in batch:
                    res.read += 1
                    if reason is None:
                        out.write(line)
                        out.write("\n")
                        res.written += 1
                        continue
                    rej_file = plan.open("rejects")
                    rej_file.write(line)
                    rej_file.write("\n")
                    res.rejected += 1
                    report.by_reason[reason] += 1
            report.by_format[det.format] += res.read
            report.written += res.written
            report.rejected += res.rejected
            if on_file is not None:
                on_file(res)
        if not counts.read:
            raise InputError(
                f"no records found in {', '.join(f.file for f in report.files)} (empty files); "
                "nothing written"
            )
        counts.kept, counts.rejected = report.written, report.rejected
        counts.check("ingest")
        report.counts = counts
        plan.commit()
    if report.rejected:
        report.rejects = str(rej_path)
    else:
        with contextlib.suppress(FileNotFoundError):
            rej_path.unlink()  # a stale rejects file from an earlier run would mislead
    return report


def _batched(
    raws: Iterator[Raw], format: str | Ingestor, options: IngestOptions
) -> Iterator[list[tuple[str, str | None]]]:
    """:func:`convert_batch` over ``raws`` in batches of :data:`BATCH` (the place to plug in
    a process pool or ``ray.data``)."""
    while batch := list(itertools.islice(raws, BATCH)):
        yield convert_batch(batch, format, options)


# ``curate.ingest(...)`` is the library function (curate.api) even once this module is imported
from curate.stage import callable_module  # noqa: E402

callable_module(__name__)
