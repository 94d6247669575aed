"""``curate dedup``: the file driver (two streaming passes over the inputs).

Every output is planned before anything is read (:class:`curate.stage.OutputPlan`: no
output may be an input, an ``--against`` file or another output). Pass 1 reads every line
once, in batches, and computes features with the pure :func:`featurize_lines` (inline for
small inputs, in a process pool on all cores for large ones); the main process only keeps
the compact features. :meth:`DuplicateIndex.solve` decides. Pass 2 re-reads the inputs
and writes, to temporary files committed together: kept lines byte for byte to the
output, every removed or unreadable line to the rejects file
(:func:`curate.stage.reject_row`, ``OUT.rejected.jsonl``), and one line per cluster to
the clusters file. ``read = kept + rejected + deduplicated`` (:class:`curate.stage.Counts`).

Example:
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "in.jsonl")
    >>> rec = {"messages": [{"role": "user", "content": "hi"},
    ...                     {"role": "assistant", "content": "hello"}]}
    >>> _ = open(p, "w").write(json.dumps(rec) + "\\n" + json.dumps(rec) + "\\n")
    >>> s = dedup_paths([p], os.path.join(d, "out.jsonl"))
    >>> s.read, s.kept, s.removed_exact, s.clusters, os.path.basename(s.rejects)
    (2, 1, 1, 1, 'out.rejected.jsonl')
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate.dedup.core import (
    BY_CONTAINMENT,
    CONTAINED,
    CONTAMINATED,
    EXACT,
    KEPT,
    NEAR,
    DuplicateIndex,
    Features,
    Params,
    Plan,
    _conflicts,
    featurize,
    is_large_cluster,
)
from curate.io import (
    BOM,
    check_readable,
    dumps,
    iter_raw_lines,
    parse_line,
    sniff_not_jsonl,
    source_file,
)
from curate.parallel import fork_pool, line_batches, run_ordered
from curate.records import CurateError, Finding, InputError, Location, Severity
from curate.stage import Counts, OutputPlan, StageResult, reject_row, rejects_path

BATCH_LINES = 2000
BATCH_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 8 << 20
REASONS = {
    EXACT: "exact_duplicate",
    NEAR: "near_duplicate",
    CONTAINED: "contained_duplicate",
    CONTAMINATED: "contaminated",
}


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
    """Counts of one run (the ``--json`` object).
    ``read = kept + removed_exact + removed_near + removed_contained +
    removed_contaminated + removed_invalid``."""

    read: int = 0
    kept: int = 0
    removed_exact: int = 0
    removed_near: int = 0
    removed_contained: int = 0
    removed_contaminated: int = 0
    removed_invalid: int = 0
    #: the first unreadable line of the inputs or of --against, as ``file:line``
    first_invalid: str | None = None
    clusters: int = 0
    #: the biggest cluster: ``{cluster, representative, file, line, size, share}``
    largest_cluster: dict[str, Any] | None = None
    conflicting_answers: int = 0
    reference_read: int = 0
    reference_invalid: int = 0
    threshold: float = 0.8
    scope: str = "conversation"
    near: bool = True
    containment: bool = True
    keep: str = "longest"
    num_perm: int = 128
    seed: int = 0
    #: reasoning traces compared (``include``) or not (``exclude``)
    reasoning: str = "exclude"
    inputs: list[str] = field(default_factory=list)
    against: list[str] = field(default_factory=list)
    output: str | None = None
    rejects: str | None = None
    clusters_file: str | None = None
    #: ``large_duplicate_cluster`` findings
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["findings"] = [f.to_dict() for f in self.findings]
        return d

    def counts(self) -> Counts:
        """The stage contract's counts (duplicates and contamination are ``deduplicated``;
        unreadable lines ``rejected``)."""
        removed = (self.removed_exact + self.removed_near + self.removed_contained
                   + self.removed_contaminated)  # fmt: skip
        return Counts(self.read, self.kept, self.removed_invalid, removed)

    def result(self) -> StageResult:
        """The shared :class:`curate.stage.StageResult`."""
        roles = (("kept", self.output), ("rejects", self.rejects), ("clusters", self.clusters_file))
        d = self.to_dict()
        keep = ("removed_exact", "removed_near", "removed_contained", "removed_contaminated",
                "removed_invalid", "clusters", "largest_cluster",
                "conflicting_answers")  # fmt: skip
        return StageResult(
            "dedup",
            self.counts(),
            {role: Path(p) for role, p in roles if p},
            list(self.findings),
            {k: d[k] for k in keep},
        )


def default_side_paths(output: str | os.PathLike[str]) -> tuple[str, str]:
    """``out.jsonl`` -> (``out.rejected.jsonl``, ``out.clusters.jsonl``).

    Example:
        >>> default_side_paths("d/train.jsonl")
        ('d/train.rejected.jsonl', 'd/train.clusters.jsonl')
    """
    rej = rejects_path(output)
    return str(rej), str(rej.with_name(rej.name[: -len(".rejected.jsonl")] + ".clusters.jsonl"))


def plan_outputs(
    inputs: Sequence[str],
    output: str | os.PathLike[str] | None,
    rejects: str | os.PathLike[str] | None,
    clusters: str | os.PathLike[str] | None,
) -> tuple[OutputPlan, str | os.PathLike[str] | None, str | os.PathLike[str] | None]:
    """The output plan of a dedup run (roles ``kept``, ``rejects``, ``clusters``), the side
    files defaulting beside ``output``; refuses (exit 2) an output that is one of
    ``inputs`` (the inputs and ``--against`` files) or another output. Returns the plan
    and the rejects and clusters paths."""
    out_plan = OutputPlan(inputs, "dedup")
    if output is not None:
        d_rej, d_clu = default_side_paths(output)
        rejects = rejects if rejects is not None else d_rej
        clusters = clusters if clusters is not None else d_clu
        out_plan.add("kept", output)
    if rejects is not None:
        out_plan.add("rejects", rejects)
    if clusters is not None:
        out_plan.add("clusters", clusters)
    return out_plan, rejects, clusters


def reasoning_kwargs(reasoning: str, engine: str = "local") -> dict[str, str]:
    """The ``reasoning`` keyword for :func:`curate.engine.dedup`: none for the default (every
    engine's), else ``{"reasoning": ...}`` (both engines take it); an unknown mode is a
    :class:`~curate.records.CurateError`.

    Example:
        >>> reasoning_kwargs("exclude", "ray"), reasoning_kwargs("include")
        ({}, {'reasoning': 'include'})
    """
    from curate.dedup.text import check_reasoning
    from curate.records import CurateError

    try:
        check_reasoning(reasoning)
    except ValueError as e:
        raise CurateError(str(e)) from None
    if reasoning == "exclude":
        return {}
    del engine  # every engine takes it (the Ray one binds dedup_paths' own signature)
    return {"reasoning": reasoning}


def check_inputs(paths: Sequence[str], against: Sequence[str] = ()) -> None:
    """Every input (and ``--against`` file) readable and chat JSONL (an Alpaca array or a
    UTF-16 file says what it is and to run ``curate ingest`` first), and no file both an
    input and an ``--against`` file (all its examples would be removed as contaminated),
    before anything is planned or read."""
    inputs: dict[tuple[int, int], str] = {}
    for p in [*paths, *against]:
        check_readable(p)
        sniff_not_jsonl(p)
        st = os.stat(source_file(p))
        ident = (st.st_dev, st.st_ino)
        if p in against and ident in inputs:
            raise CurateError(
                f"{p}: is both an input and an --against file ({inputs[ident]}); every "
                "example in it would be removed as contaminated. Give held-out or benchmark "
                "data to --against only."
            )
        if p in paths:
            inputs.setdefault(ident, p)


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
    containment: bool = True,
    keep: str = "longest",
    num_perm: int = 128,
    shingle: int = 3,
    seed: int = 0,
    dedup: bool = True,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    reasoning: str = "exclude",
) -> DedupSummary:
    """Remove exact and near duplicates and contained conversations (and examples leaked
    from ``against``); the Python twin of ``curate dedup``.

    Args:
        inputs: chat JSONL files, deduplicated together, in order.
        output: where kept lines go (byte for byte); ``None`` writes nothing but the
            files asked for explicitly (a dry run).
        against: held-out or benchmark JSONL files: training examples that duplicate,
            nearly duplicate, contain or are contained in any of their examples are
            removed as ``contaminated``.
        rejects: removed and unreadable lines with reasons (default beside ``output``:
            ``OUT.rejected.jsonl``).
        clusters: one line per duplicate cluster (default ``OUT.clusters.jsonl``).
        threshold: Jaccard similarity (word ``shingle``-grams) for near duplicates.
        scope: compare ``conversation``, ``user`` or ``assistant`` turns.
        near: ``False`` removes exact (normalised) duplicates only.
        containment: ``False`` keeps conversations whose turns are a contiguous run of
            another's (they are removed, in favour of the longer one, by default).
        keep: which copy of a cluster is kept: ``longest`` (more turns, then longer
            assistant text, then input order) or ``first`` (input order).
        num_perm: MinHash signature length; shingle: words per shingle; seed: hashes.
        dedup: ``False`` only decontaminates (keeps duplicates within ``inputs``).
        workers: processes for the features (default: all cores; 1 = inline).
        progress: called with the number of bytes read, as pass 1 advances.
        reasoning: ``exclude`` (default): assistant reasoning traces (``reasoning_content``,
            ``thinking``, an inline ``<think>`` trace) are left out of the comparison, so
            the same prompt and answer with different traces are duplicates; ``include``
            compares them too. Either way a trace counts as information for ``keep``.

    Raises:
        curate.records.InputError: an input is missing, a directory or unreadable.
        curate.records.CurateError: an output is an input, an ``against`` file or
            another output (nothing is read or written then).
    """
    params = Params(threshold=threshold, scope=scope, num_perm=num_perm, shingle=shingle,
                    seed=seed, near=near, containment=containment, keep=keep,
                    reasoning=reasoning)  # fmt: skip
    files = [str(p) for p in inputs]
    refs = [str(p) for p in against]
    if not files:
        raise InputError("no input files given")
    check_inputs(files, refs)
    out_plan, rejects, clusters = plan_outputs([*files, *refs], output, rejects, clusters)

    summary = DedupSummary(threshold=threshold, scope=scope, near=near, containment=containment,
                           keep=keep, num_perm=num_perm, seed=seed, reasoning=reasoning,
                           inputs=files, against=refs)  # fmt: skip
    index = DuplicateIndex(params)
    doc_file: list[np.ndarray] = []
    doc_line: list[np.ndarray] = []
    ids: list[str] = []
    invalid: set[tuple[str, int]] = set()
    all_files = [*files, *refs]
    n_workers = workers if workers is not None else max(1, min(os.cpu_count() or 1, 8))
    big = sum(os.path.getsize(source_file(p)) for p in all_files) >= PARALLEL_MIN_BYTES
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
    if not summary.read:
        raise InputError(
            f"{', '.join(files)}: no examples to deduplicate (empty, or only blank lines)"
        )

    plan = index.solve()
    if not dedup:  # decontaminate only: duplicates within the inputs stay
        plan.keep_within()
        # conflicting answers among what is kept now (duplicates included)
        plan.conflicts = _conflicts(index.features(), plan.is_ref, plan.status)
    files_arr = np.concatenate(doc_file) if doc_file else np.zeros(0, np.int32)
    lines_arr = np.concatenate(doc_line) if doc_line else np.zeros(0, np.int64)
    counts = plan.counts()
    summary.kept = counts["kept"]
    summary.removed_exact = counts["removed_exact"]
    summary.removed_near = counts["removed_near"]
    summary.removed_contained = counts["removed_contained"]
    summary.removed_contaminated = counts["removed_contaminated"]
    cl = plan.clusters()
    summary.clusters = len(cl)
    summary.conflicting_answers = len(plan.conflicts)
    summary.counts().check("dedup")

    def where(i: int) -> dict[str, Any]:
        return {"file": all_files[int(files_arr[i])], "line": int(lines_arr[i])}

    summary.clusters_file = str(clusters) if clusters is not None else None
    summary.largest_cluster, summary.findings = large_clusters(cl, ids, where, summary)
    if out_plan.outputs:
        with out_plan.writing():
            if "kept" in out_plan or "rejects" in out_plan:
                _write(out_plan, files, plan, lines_arr, ids, where, invalid)
            if "clusters" in out_plan:
                _write_clusters(out_plan.open("clusters"), plan, cl, ids, where)
            out_plan.commit()
    summary.output = str(output) if output is not None else None
    summary.rejects = str(rejects) if rejects is not None else None
    return summary


def _run(
    path: str, params: Params, executor: ProcessPoolExecutor | None, in_flight: int
) -> Iterator[LinesResult]:
    tasks = ((path, b, params) for b in _batches(path))
    return run_ordered(_featurize_task, tasks, executor, in_flight)


def large_clusters(
    cl: dict[int, list[int]],
    ids: list[str],
    where: Callable[[int], dict[str, Any]],
    summary: DedupSummary,
) -> tuple[dict[str, Any] | None, list[Finding]]:
    """The largest cluster (``{cluster, representative, file, line, size, share}``) and a
    ``large_duplicate_cluster`` finding for each cluster
    :func:`curate.dedup.core.is_large_cluster` calls large (more than 1% of the input and
    at least 10 examples)."""
    if not cl:
        return None, []
    total = max(summary.read, 1)
    numbered = list(enumerate(cl.items()))
    k, (rep, members) = max(numbered, key=lambda x: (len(x[1][1]), -x[0]))
    largest = {"cluster": k, "representative": ids[rep], **where(rep), "size": len(members),
               "share": round(len(members) / total, 4)}  # fmt: skip
    findings: list[Finding] = []
    for k, (rep, members) in numbered:
        size = len(members)
        if not is_large_cluster(size, summary.read):
            continue
        w = where(rep)
        in_file = f" (cluster {k} in {summary.clusters_file})" if summary.clusters_file else ""
        findings.append(Finding(
            "large_duplicate_cluster",
            Severity.WARNING,
            f"one cluster holds {size:,} of {summary.read:,} examples ({size / total:.1%}); "
            f"all but {w['file']}:{w['line']} (id {ids[rep]}) are removed{in_file}",
            Location(w["file"], w["line"]),
            hint="look at its members before losing that much data: a boilerplate turn, a "
            "template or a too-low --threshold makes such clusters (--threshold, "
            "--no-containment and --scope change what counts as a duplicate)",
            data={"cluster": k, "size": size, "share": round(size / total, 4)},
        ))  # fmt: skip
    return largest, findings


def _fmt(w: dict[str, Any]) -> str:
    return f"{w['file']}:{w['line']}"


@dataclass(frozen=True, slots=True)
class Ref:
    """A document as the rows name it: its id and ``{"file", "line"}``."""

    id: str
    source: dict[str, Any]


def duplicate_reject(
    status: int,
    similarity: float,
    rep_similarity: float | None,
    me: Ref,
    dup: Ref,
    rep: Ref,
    record: Any,
    *,
    by_containment: bool = False,
) -> dict[str, Any]:
    """The reject row of a removed document (any engine): the one shape
    (:func:`curate.stage.reject_row`), its details in a finding.

    Args:
        status: ``EXACT``, ``NEAR``, ``CONTAINED`` or ``CONTAMINATED``.
        similarity: to ``dup``; rep_similarity: to ``rep`` (``None``/NaN: not known).
        me, dup, rep: the document, what it duplicates directly, the kept one.
        record: the parsed line.
        by_containment: a contaminated document matched by containment.

    Example:
        >>> a = Ref("a1", {"file": "t.jsonl", "line": 1})
        >>> b = Ref("b2", {"file": "t.jsonl", "line": 2})
        >>> duplicate_reject(CONTAINED, 0.5, 0.5, a, b, b, {})["message"]
        "its turns are contained in t.jsonl:2 (id b2), 50% of that conversation's turns"
    """
    wj, wr = dup.source, rep.source
    if status == EXACT and dup.id == rep.id and wj == wr:
        msg = f"exact duplicate of {_fmt(wj)} (id {dup.id}), kept, after normalisation"
    elif status == EXACT:
        msg = (f"exact duplicate of {_fmt(wj)} (id {dup.id}) after normalisation, which is "
               f"itself removed in favour of {_fmt(wr)} (id {rep.id})")  # fmt: skip
    elif status == CONTAMINATED:
        how = "turns contained" if by_containment else "similarity"
        msg = f"duplicates held-out example {_fmt(wj)} (id {dup.id}), {how} {similarity:.2f}"
    elif status == CONTAINED:
        msg = (f"its turns are contained in {_fmt(wj)} (id {dup.id}), "
               f"{round(similarity * 100)}% of that conversation's turns")  # fmt: skip
        if wj != wr:
            msg += f"; that one is removed in favour of {_fmt(wr)} (id {rep.id})"
    else:
        msg = f"near duplicate of {_fmt(wj)} (id {dup.id}), kept: Jaccard {similarity:.4f}"
    contained = status == CONTAINED or (status == CONTAMINATED and by_containment)
    match = "containment" if contained else "exact" if status == EXACT else "text"
    finding = Finding(
        REASONS[status],
        Severity.WARNING,
        msg,
        Location(**me.source),
        related=Location(**wj),
        data={
            "id": me.id,
            "duplicate_of": {"id": dup.id, "source": wj},
            "representative": {"id": rep.id, "source": wr},
            "similarity": round(similarity, 4),
            "representative_similarity": _rounded(rep_similarity),
            "match": match,
        },
    )
    return reject_row(me.source, REASONS[status], msg, record, findings=[finding])


def _rounded(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


def unreadable_reject(path: str, line: int, raw: bytes) -> dict[str, Any] | None:
    """The reject row of a line that is not an example (its text as the record), or
    ``None`` for a blank line."""
    parsed = parse_line(path, line, raw)
    if not isinstance(parsed, Finding):
        return None
    text = raw.decode("utf-8", "backslashreplace")
    return reject_row(parsed.location, parsed.code, parsed.message, text, findings=[parsed])


def cluster_row(
    k: int, rep: Ref, members: Sequence[tuple[Ref, int, float | None, str]]
) -> dict[str, Any]:
    """One line of the clusters file: cluster ``k``, its kept ``rep``, and each removed
    member as ``(ref, status, similarity to rep, id of what it duplicates directly)``."""
    rows: list[dict[str, Any]] = [{"id": rep.id, **rep.source}]
    for ref, status, rep_sim, dup_id in members:
        rows.append({"id": ref.id, **ref.source, "status": REASONS[status],
                     "similarity": _rounded(rep_sim), "duplicate_of": dup_id})  # fmt: skip
    return {"cluster": k, "representative": rep.id, "size": len(rows), "members": rows}


def _reject(
    i: int, plan: Plan, ids: list[str], where: Callable[[int], dict[str, Any]], data: Any
) -> dict[str, Any]:
    """:func:`duplicate_reject` of document ``i`` of ``plan``."""
    j, r = int(plan.dup_of[i]), int(plan.rep[i])
    return duplicate_reject(
        int(plan.status[i]),
        float(plan.similarity[i]),
        float(plan.rep_similarity[i]),
        Ref(ids[i], where(i)),
        Ref(ids[j], where(j)),
        Ref(ids[r], where(r)),
        data,
        by_containment=bool(plan.how[i] == BY_CONTAINMENT),
    )


def _write(
    out_plan: OutputPlan,
    files: list[str],
    plan: Plan,
    lines_arr: np.ndarray,
    ids: list[str],
    where: Callable[[int], dict[str, Any]],
    invalid: set[tuple[str, int]],
) -> None:
    """Pass 2: kept lines verbatim, removed and unreadable ones as reject rows."""
    out = out_plan.open("kept", "wb") if "kept" in out_plan else None
    rej = out_plan.open("rejects") if "rejects" in out_plan else None
    doc = 0
    for path in files:
        for line, raw in iter_raw_lines(path):
            if (path, line) in invalid:
                row = unreadable_reject(path, line, raw) if rej is not None else None
                if rej is not None and row is not None:
                    rej.write(dumps(row) + "\n")
                continue
            if line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if not raw.strip():
                continue
            if doc >= len(plan.status) or int(lines_arr[doc]) != line:
                raise InputError(f"{path}: changed while deduplicating (line {line}); rerun.")
            if plan.status[doc] == KEPT:
                if out is not None:
                    out.write(raw + b"\n")
            elif rej is not None:
                rej.write(dumps(_reject(doc, plan, ids, where, json.loads(raw))) + "\n")
            doc += 1


def _write_clusters(
    f: Any,
    plan: Plan,
    cl: dict[int, list[int]],
    ids: list[str],
    where: Callable[[int], dict[str, Any]],
) -> None:
    """One line per cluster (:func:`cluster_row`)."""
    for k, (rep, members) in enumerate(cl.items()):
        rows = [
            (Ref(ids[m], where(m)), int(plan.status[m]), float(plan.rep_similarity[m]),
             ids[int(plan.dup_of[m])])
            for m in members
            if m != rep
        ]  # fmt: skip
        f.write(dumps(cluster_row(k, Ref(ids[rep], where(rep)), rows)) + "\n")
