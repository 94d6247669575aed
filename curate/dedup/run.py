"""``curate dedup``: the file driver (two streaming passes over the inputs).

Pass 1 reads every line once, in batches, and computes features with the pure
:func:`featurize_lines` (inline for small inputs, in a process pool on all cores for large
ones); the main process only keeps the compact features. :meth:`DuplicateIndex.solve`
decides. Pass 2 re-reads the inputs and writes, atomically: kept lines byte for byte to the
output, every removed or unreadable line to the rejects file (with the id and location it
duplicates), and one line per cluster to the clusters file. ``read = kept + removed_*``.

Example:
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "in.jsonl")
    >>> rec = {"messages": [{"role": "user", "content": "hi"},
    ...                     {"role": "assistant", "content": "hello"}]}
    >>> _ = open(p, "w").write(json.dumps(rec) + "\\n" + json.dumps(rec) + "\\n")
    >>> s = dedup_paths([p], os.path.join(d, "out.jsonl"))
    >>> s.read, s.kept, s.removed_exact, s.clusters
    (2, 1, 1, 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate.dedup.core import (
    BY_CONTAINMENT,
    CONTAMINATED,
    EXACT,
    KEPT,
    NEAR,
    DuplicateIndex,
    Features,
    Params,
    Plan,
    featurize,
)
from curate.io import BOM, atomic_write, check_readable, dumps, iter_raw_lines, parse_line
from curate.parallel import fork_pool, line_batches, run_ordered
from curate.records import Finding, InputError

BATCH_LINES = 2000
BATCH_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 8 << 20
REASONS = {EXACT: "exact_duplicate", NEAR: "near_duplicate", CONTAMINATED: "contaminated"}


@dataclass(slots=True)
class LinesResult:
    """What pass 1 keeps of a batch: features, and per record its line and id."""

    features: Features
    lines: np.ndarray
    ids: list[str]
    invalid: list[int]
    n_bytes: int


def featurize_lines(file: str, lines: list[tuple[int, bytes]], params: Params) -> LinesResult:
    """Pure: parse a batch of raw JSONL lines and compute their features."""
    records: list[Any] = []
    line_nos: list[int] = []
    ids: list[str] = []
    invalid: list[int] = []
    n_bytes = 0
    for line, raw in lines:
        n_bytes += len(raw) + 1
        parsed = parse_line(file, line, raw)
        if parsed is None:
            continue
        if isinstance(parsed, Finding):
            invalid.append(line)
            continue
        records.append(parsed.data)
        line_nos.append(line)
        ids.append(parsed.id)
    return LinesResult(
        featurize(records, params), np.array(line_nos, dtype=np.int64), ids, invalid, n_bytes
    )


def _featurize_task(args: tuple[str, list[tuple[int, bytes]], Params]) -> LinesResult:
    return featurize_lines(*args)


def _batches(path: str) -> Iterator[list[tuple[int, bytes]]]:
    return line_batches(path, max_lines=BATCH_LINES, max_bytes=BATCH_BYTES)


@dataclass
class DedupSummary:
    """Counts of one run (the ``--json`` object). ``read = kept + removed_*``."""

    read: int = 0
    kept: int = 0
    removed_exact: int = 0
    removed_near: int = 0
    removed_contaminated: int = 0
    removed_invalid: int = 0
    #: the first unreadable line of the inputs or of --against, as ``file:line``
    first_invalid: str | None = None
    clusters: int = 0
    conflicting_answers: int = 0
    reference_read: int = 0
    reference_invalid: int = 0
    threshold: float = 0.8
    scope: str = "conversation"
    near: bool = True
    num_perm: int = 128
    seed: int = 0
    inputs: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)
    output: str | None = None
    rejects: str | None = None
    clusters_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_side_paths(output: str | os.PathLike[str]) -> tuple[str, str]:
    """``out.jsonl`` -> (``out.rejects.jsonl``, ``out.clusters.jsonl``)."""
    p = Path(output)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return str(p.with_name(stem + ".rejects.jsonl")), str(p.with_name(stem + ".clusters.jsonl"))


def dedup_paths(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    *,
    against: Sequence[str | os.PathLike[str]] = (),
    rejects: str | os.PathLike[str] | None = None,
    clusters: str | os.PathLike[str] | None = None,
    threshold: float = 0.8,
    scope: str = "conversation",
    near: bool = True,
    num_perm: int = 128,
    shingle: int = 3,
    seed: int = 0,
    dedup: bool = True,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> DedupSummary:
    """Remove exact and near duplicates (and examples leaked from ``against``); the Python
    twin of ``curate dedup``.

    Args:
        inputs: chat JSONL files, deduplicated together, in order (the first copy wins).
        output: where kept lines go (byte for byte); ``None`` writes nothing but the
            files asked for explicitly (a dry run).
        against: held-out or benchmark JSONL files: training examples that duplicate or
            nearly duplicate any of their examples are removed as ``contaminated``.
        rejects: removed and unreadable lines with reasons (default beside ``output``:
            ``OUT.rejects.jsonl``).
        clusters: one line per duplicate cluster (default ``OUT.clusters.jsonl``).
        threshold: Jaccard similarity (word ``shingle``-grams) for near duplicates.
        scope: compare ``conversation``, ``user`` or ``assistant`` turns.
        near: ``False`` removes exact (normalised) duplicates only.
        num_perm: MinHash signature length; shingle: words per shingle; seed: hashes.
        dedup: ``False`` only decontaminates (keeps duplicates within ``inputs``).
        workers: processes for the features (default: all cores; 1 = inline).
        progress: called with the number of bytes read, as pass 1 advances.

    Raises:
        curate.records.InputError: an input is missing, a directory or unreadable, or an
            output path is also an input of ``against``.
    """
    params = Params(threshold=threshold, scope=scope, num_perm=num_perm, shingle=shingle,
                    seed=seed, near=near)  # fmt: skip
    files = [str(p) for p in inputs]
    refs = [str(p) for p in against]
    if not files:
        raise InputError("no input files given")
    for p in (*files, *refs):
        check_readable(p)
    if output is not None:
        d_rej, d_clu = default_side_paths(output)
        rejects = rejects if rejects is not None else d_rej
        clusters = clusters if clusters is not None else d_clu
    outs = [str(p) for p in (output, rejects, clusters) if p is not None]
    for o in outs:
        for p in refs:
            if os.path.exists(o) and os.path.samefile(o, p):
                raise InputError(f"{o}: is also an --against file; write the output elsewhere.")
    if len(set(outs)) != len(outs):
        raise InputError(f"output, rejects and clusters must be different files (got {outs}).")

    summary = DedupSummary(threshold=threshold, scope=scope, near=near, num_perm=num_perm,
                           seed=seed, inputs=files, against=refs)  # fmt: skip
    index = DuplicateIndex(params)
    doc_file: list[np.ndarray] = []
    doc_line: list[np.ndarray] = []
    ids: list[str] = []
    invalid: set[tuple[str, int]] = set()
    all_files = [*files, *refs]
    n_workers = workers if workers is not None else max(1, min(os.cpu_count() or 1, 8))
    big = sum(os.path.getsize(p) for p in all_files) >= PARALLEL_MIN_BYTES
    executor: ProcessPoolExecutor | None = None
    if n_workers > 1 and big:
        executor = fork_pool(n_workers)
    try:
        for fi, path in enumerate(all_files):
            is_ref = fi >= len(files)
            for res in _run(path, params, executor, 2 * n_workers + 2):
                index.add(res.features, reference=is_ref)
                doc_file.append(np.full(len(res.lines), fi, dtype=np.int32))
                doc_line.append(res.lines)
                ids.extend(res.ids)
                if res.invalid and summary.first_invalid is None:
                    summary.first_invalid = f"{path}:{min(res.invalid)}"
                if is_ref:
                    summary.reference_read += len(res.lines)
                    summary.reference_invalid += len(res.invalid)
                else:
                    summary.read += len(res.lines) + len(res.invalid)
                    summary.removed_invalid += len(res.invalid)
                    invalid.update((path, line) for line in res.invalid)
                if progress is not None:
                    progress(res.n_bytes)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)

    plan = index.solve()
    if not dedup:  # decontaminate only: duplicates within the inputs stay
        within = (plan.status == EXACT) | (plan.status == NEAR)
        plan.status[within] = KEPT
        plan.dup_of[within] = -1
        plan.rep[within] = np.flatnonzero(within)
    files_arr = np.concatenate(doc_file) if doc_file else np.zeros(0, np.int32)
    lines_arr = np.concatenate(doc_line) if doc_line else np.zeros(0, np.int64)
    counts = plan.counts()
    summary.kept = counts["kept"]
    summary.removed_exact = counts["removed_exact"]
    summary.removed_near = counts["removed_near"]
    summary.removed_contaminated = counts["removed_contaminated"]
    cl = plan.clusters()
    summary.clusters = len(cl)
    summary.conflicting_answers = len(plan.conflicts)
    removed = summary.removed_exact + summary.removed_near + summary.removed_contaminated
    assert summary.read == summary.kept + removed + summary.removed_invalid, summary

    def where(i: int) -> dict[str, Any]:
        return {"file": all_files[int(files_arr[i])], "line": int(lines_arr[i])}

    if output is not None or rejects is not None:
        _write(files, output, rejects, plan, lines_arr, ids, where, invalid)
    if clusters is not None:
        _write_clusters(clusters, plan, cl, ids, where)
    summary.output = str(output) if output is not None else None
    summary.rejects = str(rejects) if rejects is not None else None
    summary.clusters_file = str(clusters) if clusters is not None else None
    return summary


def _run(
    path: str, params: Params, executor: ProcessPoolExecutor | None, in_flight: int
) -> Iterator[LinesResult]:
    tasks = ((path, b, params) for b in _batches(path))
    return run_ordered(_featurize_task, tasks, executor, in_flight)


def _reject_row(
    i: int, plan: Plan, ids: list[str], where: Callable[[int], dict[str, Any]], data: Any
) -> dict[str, Any]:
    st = int(plan.status[i])
    j = int(plan.dup_of[i])
    r = int(plan.rep[i])
    sim = float(plan.similarity[i])
    if st == EXACT:
        msg = f"exact duplicate of {_fmt(where(j))} (id {ids[j]}) after normalisation"
    elif st == CONTAMINATED:
        msg = f"duplicates held-out example {_fmt(where(j))} (id {ids[j]}), similarity {sim:.2f}"
    elif plan.how[i] == BY_CONTAINMENT:
        msg = f"near duplicate of {_fmt(where(j))} (id {ids[j]}): turns contained, ratio {sim:.2f}"
    else:
        msg = f"near duplicate of {_fmt(where(j))} (id {ids[j]}): Jaccard {sim:.4f}"
    return {
        "id": ids[i],
        "source": where(i),
        "reason": REASONS[st],
        "message": msg,
        "duplicate_of": {"id": ids[j], "source": where(j)},
        "representative": {"id": ids[r], "source": where(r)},
        "similarity": round(sim, 4),
        "match": "containment" if plan.how[i] == BY_CONTAINMENT and st != EXACT else "text",
        "record": data,
    }


def _fmt(w: dict[str, Any]) -> str:
    return f"{w['file']}:{w['line']}"


def _write(
    files: list[str],
    output: str | os.PathLike[str] | None,
    rejects: str | os.PathLike[str] | None,
    plan: Plan,
    lines_arr: np.ndarray,
    ids: list[str],
    where: Callable[[int], dict[str, Any]],
    invalid: set[tuple[str, int]],
) -> None:
    import contextlib
    import json

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(atomic_write(output, "wb")) if output is not None else None
        rej = stack.enter_context(atomic_write(rejects)) if rejects is not None else None
        doc = 0
        for path in files:
            for line, raw in iter_raw_lines(path):
                if line == 1 and raw.startswith(BOM):
                    raw = raw[len(BOM) :]
                if not raw.strip():
                    continue
                if (path, line) in invalid:
                    parsed = parse_line(path, line, raw)
                    if rej is not None and isinstance(parsed, Finding):
                        rej.write(dumps({
                            "id": None,
                            "source": {"file": path, "line": line},
                            "reason": parsed.code,
                            "message": parsed.message,
                            "raw": raw.decode("utf-8", "backslashreplace"),
                        }) + "\n")  # fmt: skip
                    continue
                if doc >= len(plan.status) or int(lines_arr[doc]) != line:
                    raise InputError(f"{path}: changed while deduplicating (line {line}); rerun.")
                if plan.status[doc] == KEPT:
                    if out is not None:
                        out.write(raw + b"\n")
                elif rej is not None:
                    data = json.loads(raw)
                    rej.write(dumps(_reject_row(doc, plan, ids, where, data)) + "\n")
                doc += 1


def _write_clusters(
    path: str | os.PathLike[str],
    plan: Plan,
    cl: dict[int, list[int]],
    ids: list[str],
    where: Callable[[int], dict[str, Any]],
) -> None:
    with atomic_write(path) as f:
        for k, (rep, members) in enumerate(cl.items()):
            rows = []
            for m in members:
                row: dict[str, Any] = {"id": ids[m], **where(m)}
                if m != rep:
                    row["status"] = REASONS[int(plan.status[m])]
                    row["duplicate_of"] = ids[int(plan.dup_of[m])]
                    row["similarity"] = round(float(plan.similarity[m]), 4)
                rows.append(row)
            f.write(dumps({"cluster": k, "representative": ids[rep], "size": len(members),
                           "members": rows}) + "\n")  # fmt: skip
