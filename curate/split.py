"""``curate split``: leak-proof, reproducible train/eval sets.

How a split is made (two streaming passes over the input, compact per-example state in
numpy arrays):

1. **Scan** (pure :func:`scan_batch`, in a process pool for large files): parse each line,
   check it is a canonical chat or preference record the target format can hold
   (otherwise it goes to ``rejected.jsonl`` with a reason), and keep 8-byte hashes of its
   id, its exact-duplicate key and its prompt key, its token count and its stratum.
2. **Group** (:func:`group_labels`): examples that share an exact-duplicate key or a
   prompt, or are near-duplicates (:mod:`curate.dedup.group`: fixed-size MinHash
   sketches made in pass 1, LSH candidates decided by the signature estimate, or by exact
   Jaccard after re-reading the pair when the estimate is close to the threshold), are
   joined into one group (connected components), so no duplicate, near-duplicate or
   prompt can appear on both sides.
3. **Assign** (:func:`assign_eval`): each group gets ``u = hash(seed, group key)`` in
   ``[0, 1)``, where the group key is the smallest id hash among its members. Eval takes
   the groups with the smallest ``u`` until it holds the requested number of examples
   (skipping a group that would overshoot more than it fills). Adding data therefore
   moves few existing examples: a group keeps its ``u``, and only the cut-off moves.
   With ``stratify_by``, the same is done inside each stratum, with per-stratum targets
   apportioned by largest remainder, so each stratum's eval share is within one example
   of the target when groups do not straddle strata.
4. **Write** (pass 2): each example goes to ``train`` or ``eval`` in the chosen format
   (:mod:`curate.export`; reasoning, tools and media carried where the format can, local
   media files copied once into ``media/``), and ``manifest.json`` records the input
   sha256, options, counts, tokens, group counts, a leakage check, what was carried or
   dropped, and the sha256 of every output file. Pass 1 already converts every record
   whose reasoning or media needs it (media files checked), so what a format cannot hold
   is rejected before the assignment.

Example:
    >>> import numpy as np
    >>> ids = np.array([11, 12, 13, 14], dtype=np.uint64)
    >>> prompts = np.array([1, 1, 2, 3], dtype=np.uint64)  # rows 0 and 1 share a prompt
    >>> labels, n = group_labels(4, [prompts])
    >>> n, bool(labels[0] == labels[1])
    (3, True)
    >>> is_eval = assign_eval(labels, ids, n_eval=2, seed=0)
    >>> int(is_eval.sum()), bool(is_eval[0] == is_eval[1])
    (2, True)
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate.export import (
    FORMATS,
    MEDIA_MODES,
    REASONING_MODES,
    TRL_SHAPES,
    ExportError,
    MediaPlan,
    convert,
    record_kind,
    training_messages,
)
from curate.io import dumps, parse_line, source_file
from curate.media import iter_media
from curate.parallel import fork_pool, line_batches, run_ordered
from curate.records import CurateError, Example, Finding, InputError
from curate.stage import OutputPlan

GROUP_BY = ("both", "cluster", "prompt", "none")
METHODS = ("hash", "sklearn")
#: which records one split exports: the majority kind, supervised chats or preference pairs
KINDS = ("auto", "sft", "preference")
BATCH_LINES = 4000
BATCH_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 8 << 20
#: token-length buckets for ``stratify_by="tokens"`` (upper bounds, inclusive)
TOKEN_BUCKETS = (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
MISSING = "(missing)"
#: the eval share when neither ``eval_fraction`` nor ``eval_size`` is given
DEFAULT_EVAL_FRACTION = 0.1
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True, slots=True)
class SplitOptions:
    """Options of :func:`split_path` (the same names as ``curate split``'s flags).

    Args:
        eval_fraction: share of examples in eval (0 < F < 1); or give ``eval_size``.
            With neither, eval takes :data:`DEFAULT_EVAL_FRACTION` (10%).
        eval_size: number of examples in eval.
        seed: the assignment seed; the same seed and input give byte-identical outputs.
        group_by: ``both`` (duplicate clusters and prompts), ``cluster``, ``prompt`` or
            ``none``.
        near: also group near-duplicates (needs :func:`curate.dedup.cluster_keys`).
        near_threshold: Jaccard similarity for near-duplicates.
        stratify_by: ``tokens`` (token-length bucket) or a dotted field path
            (``source.format``, ``metadata.lang``).
        method: ``hash`` (stable under added data) or ``sklearn`` (scikit-learn's
            ``StratifiedShuffleSplit`` / ``GroupShuffleSplit`` over groups).
        format: export format, one of :data:`curate.export.FORMATS`.
        trl_shape: ``messages`` or ``prompt-completion`` (``format="trl"`` only).
        model: model whose encoding counts tokens (manifest, token buckets).
        kind: ``auto`` (the majority kind), ``sft`` or ``preference``: one export holds
            one kind; records of the other kind are rejected as ``mixed_kinds``.
        reasoning: what happens to assistant ``reasoning_content``: ``auto`` (the
            field in trl/hf, an inline ``<think>`` block in sharegpt/alpaca, a
            ``cannot_carry_reasoning`` reject in openai), ``inline``, ``drop`` (counted
            in the manifest) or ``reject``.
        media: local media files: ``copy`` (into ``OUTDIR/media/``, content-addressed),
            ``rewrite`` (paths relative to the output folder, nothing copied) or
            ``embed`` (``data:`` URIs; what ``openai`` needs for local images).
        workers: processes for large files (default: all cores, 1 = inline).
    """

    eval_fraction: float | None = None
    eval_size: int | None = None
    seed: int = 0
    group_by: str = "both"
    near: bool = True
    near_threshold: float = 0.8
    stratify_by: str | None = None
    method: str = "hash"
    format: str = "openai"
    trl_shape: str = "messages"
    model: str = "gpt-4o-mini"
    kind: str = "auto"
    reasoning: str = "auto"
    media: str = "copy"
    workers: int | None = None

    def check(self) -> None:
        """Raise :class:`CurateError` naming the bad option."""
        if self.eval_fraction is not None and self.eval_size is not None:
            raise CurateError("give one of --eval-fraction or --eval-size, not both")
        if self.eval_fraction is not None and not 0 < self.eval_fraction < 1:
            raise CurateError(f"--eval-fraction must be between 0 and 1 (got {self.eval_fraction})")
        if self.eval_size is not None and self.eval_size < 1:
            raise CurateError(f"--eval-size must be at least 1 (got {self.eval_size})")
        for name, value, allowed in (
            ("--group-by", self.group_by, GROUP_BY),
            ("--method", self.method, METHODS),
            ("--format", self.format, FORMATS),
            ("--trl-shape", self.trl_shape, TRL_SHAPES),
            ("--kind", self.kind, KINDS),
            ("--reasoning", self.reasoning, REASONING_MODES),
            ("--media", self.media, MEDIA_MODES),
        ):
            if value not in allowed:
                raise CurateError(f"{name} {value!r} is not one of: {', '.join(allowed)}")
        if self.stratify_by is not None and (
            not self.stratify_by.strip() or any(not p for p in self.stratify_by.split("."))
        ):
            raise CurateError(
                f"--stratify-by {self.stratify_by!r}: give 'tokens' or a dotted field path "
                "such as source.format or metadata.lang"
            )
        if not 0 < self.near_threshold <= 1:
            raise CurateError(f"--near-threshold must be in (0, 1] (got {self.near_threshold})")

    @property
    def fraction(self) -> float | None:
        """The eval share in effect (``None`` when ``eval_size`` is given)."""
        if self.eval_size is not None:
            return None
        return DEFAULT_EVAL_FRACTION if self.eval_fraction is None else self.eval_fraction

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "workers"}
        out["eval_fraction"] = self.fraction  # the share in effect, default included
        return out


# -- keys ----------------------------------------------------------------------------------


def h64(data: bytes) -> int:
    """A non-zero 64-bit hash (0 means "no key" in the key arrays).

    Example:
        >>> h64(b"abc") == h64(b"abc") != h64(b"abd")
        True
    """
    v = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    return v or 1


#: roles that make up a prompt (as curate.dedup.prompt_key counts them)
PROMPT_ROLES = frozenset({"system", "developer", "user"})


def _norm(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def norm_turns(data: dict[str, Any]) -> list[tuple[str, str]]:
    """A record's normalised ``(role, text)`` turns (NFKC, case-folded, whitespace
    collapsed): :func:`curate.dedup.text.scope_turns` with the ``conversation`` scope,
    with a fast path for plain ``{role, content}`` messages.

    Example:
        >>> norm_turns({"messages": [{"role": "user", "content": " Hi  THERE"}]})
        [('user', 'hi there')]
    """
    msgs = data.get("messages")
    turns: list[tuple[str, str]] = []
    if isinstance(msgs, list):
        for m in msgs:
            c = m.get("content")
            if type(c) is not str or (len(m) > 2 and ("tool_calls" in m or "function_call" in m)):
                break
            turns.append((m.get("role"), _norm(c)))
        else:
            return turns
    from curate.dedup.text import scope_turns

    return scope_turns(data, "conversation")


def turn_keys(turns: list[tuple[str, str]]) -> tuple[int, int]:
    """``(exact, prompt)`` 64-bit keys of a record's normalised turns (:func:`norm_turns`):
    equal exact keys mean duplicates, equal prompt keys mean the same system and user
    turns (``0`` when a record has none).

    Example:
        >>> a = turn_keys(norm_turns({"messages": [{"role": "user", "content": "Hi"},
        ...                                        {"role": "assistant", "content": "Hello"}]}))
        >>> b = turn_keys(norm_turns({"messages": [{"role": "user", "content": " hi"},
        ...                                        {"role": "assistant", "content": "Bye"}]}))
        >>> a[0] == b[0], a[1] == b[1]
        (False, True)
    """
    exact = hashlib.blake2b(digest_size=8)
    prompt = hashlib.blake2b(digest_size=8)
    has_prompt = False
    for role, text in turns:
        piece = f"{role}\x1f{text}\x1e".encode("utf-8", "surrogatepass")
        exact.update(piece)
        if role in PROMPT_ROLES:
            prompt.update(piece)
            has_prompt = True
    # no system or user turn: no prompt to share (0 = no key), not one giant group
    return (
        int.from_bytes(exact.digest(), "little") or 1,
        (int.from_bytes(prompt.digest(), "little") or 1) if has_prompt else 0,
    )


def field_value(data: Any, path: str) -> str:
    """The value at a dotted ``path`` as a stratum label (``(missing)`` when absent).

    Example:
        >>> field_value({"source": {"format": "alpaca"}}, "source.format")
        'alpaca'
        >>> field_value({"metadata": {}}, "metadata.lang")
        '(missing)'
    """
    cur = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    if cur is None:
        return MISSING
    return cur if isinstance(cur, str) else dumps(cur)


def token_bucket(n: int) -> str:
    """A token-length bucket label.

    Example:
        >>> token_bucket(100), token_bucket(300), token_bucket(10**6)
        ('<=128', '<=512', '>32768')
    """
    for b in TOKEN_BUCKETS:
        if n <= b:
            return f"<={b}"
    return f">{TOKEN_BUCKETS[-1]}"


# -- pass 1: the pure scan -------------------------------------------------------------------


@dataclass(slots=True)
class ScanTask:
    file: str
    lines: list[tuple[int, bytes]]
    format: str
    trl_shape: str
    encoding: str
    stratify_field: str | None
    #: curate.dedup.Params when near-duplicates are grouped, else None
    near_params: Any = None
    reasoning: str = "auto"
    media: str = "copy"
    #: the input's absolute path: media urls resolve against its folder in any worker
    #: (a Ray worker's working directory is not the driver's)
    media_base: str = ""


@dataclass(slots=True)
class ScanResult:
    n_lines: int = 0
    n_blank: int = 0
    line: array = field(default_factory=lambda: array("q"))
    id_hash: array = field(default_factory=lambda: array("Q"))
    cluster_hash: array = field(default_factory=lambda: array("Q"))
    prompt_hash: array = field(default_factory=lambda: array("Q"))
    tokens: array = field(default_factory=lambda: array("q"))
    preference: array = field(default_factory=lambda: array("b"))
    strata: list[str] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    #: optional fields some record uses (they shape the hf export's schema)
    fields: set[str] = field(default_factory=set)
    #: curate.dedup.group.Sketch of the accepted records (near-duplicate grouping)
    near_sketch: Any = None


def reject_row(
    ex_or_finding: Example | Finding, reason: str, message: str, raw: bytes
) -> dict[str, Any]:
    """A reject row (:func:`curate.stage.reject_row`) for an example, or for a line that
    is none (its finding, with the raw text as the record)."""
    from curate.stage import reject_row as row

    if isinstance(ex_or_finding, Example):
        return row(ex_or_finding.source, reason, message, ex_or_finding.data)
    record = raw.decode("utf-8", errors="replace")
    return row(ex_or_finding.location, reason, message, record, findings=[ex_or_finding])


def _rich_fields(data: dict[str, Any], kind: str) -> set[str]:
    """``reasoning`` and the media kinds a record holds (what some exports cannot carry
    as they are, and what shapes the trainer configs)."""
    msgs = (
        data["messages"]
        if kind == "sft"
        else [
            *data["input"]["messages"],
            *data["preferred_output"],
            *data["non_preferred_output"],
        ]
    )
    out: set[str] = set()
    for m in msgs:
        if type(m) is not dict or (len(m) == 2 and type(m.get("content")) is str):
            continue  # {role, content}: the common case, fast
        trace = m.get("reasoning_content")
        if trace is not None and (not isinstance(trace, str) or trace.strip()):
            out.add("reasoning")
        content = m.get("content")
        if isinstance(content, list):
            out.update(x.kind for x in iter_media([m]))
            if any(not isinstance(p, dict) or p.get("type") != "text" for p in content):
                out.add("parts")  # a part the export must check (media or not)
    return out


def scan_batch(task: ScanTask) -> ScanResult:
    """Scan one batch of raw lines (pure: same task, same result)."""
    out = ScanResult()
    kept: list[dict[str, Any]] = []
    turns: list[list[tuple[str, str]]] = []
    lossless = task.format == "openai" or (task.format == "trl" and task.trl_shape == "messages")
    # media are checked, not copied
    media = MediaPlan(task.media_base or task.file, None, task.media)
    for line, raw in task.lines:
        out.n_lines += 1
        parsed = parse_line(task.file, line, raw)
        if parsed is None:
            out.n_blank += 1
            continue
        if isinstance(parsed, Finding):
            out.rejects.append(reject_row(parsed, parsed.code, parsed.message, raw))
            continue
        data = parsed.data
        try:
            kind = record_kind(data)
            rich = _rich_fields(data, kind)
            # openai and trl messages hold every plain canonical record as it is
            if not lossless or rich:
                convert(
                    data,
                    task.format,
                    trl_shape=task.trl_shape,
                    record_id="",
                    reasoning=task.reasoning,
                    media=media,
                )
        except ExportError as e:
            out.rejects.append(reject_row(parsed, e.reason, str(e), raw))
            continue
        t = norm_turns(data)
        exact, prompt = turn_keys(t)
        if task.near_params is not None:
            turns.append(t)
        given = data.get("id")
        out.line.append(line)
        # the given id, else the normalised content: both stay the same across runs
        out.id_hash.append(h64(given.encode()) if isinstance(given, str) and given else exact)
        out.cluster_hash.append(exact)
        out.prompt_hash.append(prompt)
        out.preference.append(kind == "preference")
        if task.stratify_field:
            out.strata.append(field_value(data, task.stratify_field))
        msgs = training_messages(data)
        tools = data.get("tools") if kind == "sft" else data["input"].get("tools")
        if tools is not None:
            out.fields.add("tools")
        for m in msgs + (list(data["non_preferred_output"]) if kind == "preference" else []):
            if len(m) > 2:
                out.fields.update(k for k in ("name", "tool_calls", "tool_call_id") if m.get(k))
        out.fields |= rich
        kept.append({"messages": msgs, "tools": tools, "data": data})
    if task.near_params is not None:
        from curate.dedup.group import sketch

        out.near_sketch = sketch(turns, task.near_params)
    if kept:
        from curate.tokens import shared_counter

        out.tokens.extend(
            count_totals([(k["messages"], k["tools"]) for k in kept], shared_counter(task.encoding))
        )
    return out


def count_totals(items: list[tuple[list[Any], Any]], counter: Any) -> list[int]:
    """Total tokens per ``(messages, tools)`` item, by the cookbook's formula: the same
    numbers as :func:`curate.tokens.count_examples`, with a fast path for the common case
    (no tools, every message exactly ``{role, content}`` with string values) that sends
    all their texts to tiktoken in one batch.

    Example:
        >>> from curate.tokens import Counter, count_example
        >>> msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        >>> c = Counter("cl100k_base")
        >>> count_totals([(msgs, None)], c) == [count_example(msgs, counter=c).total]
        True
    """
    from curate.tokens import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, count_examples

    out: list[int] = [0] * len(items)
    texts: list[str] = []
    simple: list[tuple[int, int, int]] = []  # (item index, first text, n messages)
    slow: list[int] = []
    for i, (msgs, tools) in enumerate(items):
        start = len(texts)
        ok = tools is None
        if ok:
            for m in msgs:
                if (
                    len(m) != 2
                    or type(m.get("role")) is not str
                    or type(m.get("content")) is not str
                ):
                    ok = False
                    break
                texts.append(m["role"])
                texts.append(m["content"])
        if ok:
            simple.append((i, start, len(msgs)))
        else:
            del texts[start:]
            slow.append(i)
    counts = counter.count_many(texts) if texts else []
    for i, start, n in simple:
        out[i] = TOKENS_PER_REPLY + n * TOKENS_PER_MESSAGE + sum(counts[start : start + 2 * n])
    if slow:
        for i, c in zip(slow, count_examples([items[i] for i in slow], counter), strict=True):
            out[i] = c.total
    return out


# -- grouping and assignment (pure numpy) ----------------------------------------------------


def group_labels(
    n: int, keys: Sequence[np.ndarray], edges: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """Connected components of examples linked by equal non-zero keys (and by the
    ``(m, 2)`` example pairs in ``edges``, such as near-duplicate links).

    Returns ``(labels, n_groups)`` with labels in ``0..n_groups-1``.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    if not keys and (edges is None or not len(edges)):
        return np.arange(n, dtype=np.int64), n
    try:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
    except ImportError as e:  # pragma: no cover - depends on the install
        raise CurateError(
            "grouping needs scipy, a core dependency of curate: reinstall it (pip install .)"
        ) from e

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    offset = n
    for k in keys:
        idx = np.flatnonzero(k)
        uniq, inv = np.unique(k[idx], return_inverse=True)
        rows.append(idx)
        cols.append(offset + inv.astype(np.int64))
        offset += len(uniq)
    if edges is not None and len(edges):
        rows.append(edges[:, 0].astype(np.int64))
        cols.append(edges[:, 1].astype(np.int64))
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(offset, offset)).tocsr()
    _, comp = connected_components(graph, directed=False)
    _, labels = np.unique(comp[:n], return_inverse=True)
    labels = labels.astype(np.int64)
    return labels, int(labels.max()) + 1


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised (uint64 in, uint64 out)."""
    with np.errstate(over="ignore"):
        z = (x + np.uint64(0x9E3779B97F4A7C15)) & _M64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
        return z ^ (z >> np.uint64(31))


def group_keys(labels: np.ndarray, id_hash: np.ndarray, n_groups: int) -> np.ndarray:
    """A stable key per group: the smallest id hash among its members."""
    gkey = np.full(n_groups, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(gkey, labels, id_hash)
    return gkey


def group_hash(gkey: np.ndarray, seed: int) -> np.ndarray:
    """``hash(seed, group key)`` as uint64 (its order is the order of ``u`` in [0, 1))."""
    seed_mix = splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    return splitmix64(gkey ^ seed_mix)


def _take(order: np.ndarray, sizes: np.ndarray, target: int) -> list[int]:
    """Groups in ``order`` until ``target`` examples: a group that would overshoot is
    taken only when that lands closer to the target than stopping short."""
    taken: list[int] = []
    cum = 0
    for g, s in zip(order.tolist(), sizes[order].tolist(), strict=True):
        if cum >= target:
            break
        if cum + s <= target:
            taken.append(g)
            cum += s
        elif cum + s - target < target - cum:
            taken.append(g)
            cum += s
            break
    return taken


def apportion(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` across strata proportionally to ``counts`` (largest remainder;
    ties go to the earlier stratum). Each share is within one of the exact quota.

    Example:
        >>> apportion(np.array([50, 30, 20]), 10).tolist()
        [5, 3, 2]
        >>> apportion(np.array([1, 1, 1]), 2).tolist()
        [1, 1, 0]
    """
    n = int(counts.sum())
    if n == 0:
        return np.zeros_like(counts)
    exact = counts.astype(np.float64) * total / n
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    order = np.lexsort((np.arange(len(counts)), -(exact - base)))
    base[order[:rest]] += 1
    return base


def group_strata(labels: np.ndarray, strata: np.ndarray, n_groups: int) -> np.ndarray:
    """Each group's stratum: the one most of its members have (ties: the smaller code)."""
    n_strata = int(strata.max()) + 1 if len(strata) else 1
    pairs = labels * n_strata + strata
    uniq, cnt = np.unique(pairs, return_counts=True)
    g, s = uniq // n_strata, uniq % n_strata
    order = np.lexsort((s, -cnt, g))
    first = np.ones(len(order), dtype=bool)
    first[1:] = g[order][1:] != g[order][:-1]
    out = np.zeros(n_groups, dtype=np.int64)
    out[g[order][first]] = s[order][first]
    return out


def assign_eval(
    labels: np.ndarray,
    id_hash: np.ndarray,
    n_eval: int,
    seed: int,
    *,
    strata: np.ndarray | None = None,
    method: str = "hash",
) -> np.ndarray:
    """Boolean mask of the examples that go to eval (see the module docstring)."""
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=bool)
    n_groups = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=n_groups)
    gkey = group_keys(labels, id_hash, n_groups)
    ghash = group_hash(gkey, seed)
    gstrat = group_strata(labels, strata, n_groups) if strata is not None else None
    if method == "sklearn":
        eval_groups = _sklearn_groups(sizes, gstrat, n_eval, seed)
    else:
        order = np.lexsort((gkey, ghash))
        if gstrat is None:
            eval_groups = np.array(_take(order, sizes, n_eval), dtype=np.int64)
        else:
            per_stratum = np.bincount(gstrat, weights=sizes).astype(np.int64)
            targets = apportion(per_stratum, n_eval)
            picked: list[int] = []
            ordered_strata = gstrat[order]
            for s, t in enumerate(targets.tolist()):
                if t:
                    picked += _take(order[ordered_strata == s], sizes, t)
            eval_groups = np.array(picked, dtype=np.int64)
    is_eval_group = np.zeros(n_groups, dtype=bool)
    is_eval_group[eval_groups] = True
    return is_eval_group[labels]


def _sklearn_groups(
    sizes: np.ndarray, gstrat: np.ndarray | None, n_eval: int, seed: int
) -> np.ndarray:
    """Eval groups drawn by scikit-learn over the groups (one row per group): a
    ``StratifiedShuffleSplit`` on the groups' strata, or a ``ShuffleSplit``. Sizes are in
    groups, so the eval share in examples is exact only when groups are single examples."""
    try:
        from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
    except ImportError as e:  # pragma: no cover - depends on the install
        raise CurateError("--method sklearn needs scikit-learn: pip install 'curate[split]'") from e
    n_groups = len(sizes)
    n_test = max(1, round(n_eval * n_groups / int(sizes.sum())))
    if n_test >= n_groups:
        raise CurateError(
            f"eval would take all {n_groups} groups; lower --eval-size/--eval-fraction"
        )
    if gstrat is not None:
        _check_sklearn_strata(gstrat, n_groups, n_test)
    X = np.zeros((n_groups, 1))
    try:
        if gstrat is None:
            splitter: Any = ShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
            _, test = next(splitter.split(X))
        else:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_test, random_state=seed)
            _, test = next(splitter.split(X, gstrat))
    except ValueError as e:
        raise CurateError(
            f"--method sklearn cannot split these {n_groups} groups (scikit-learn says: {e}). "
            "Use the default --method hash, which splits any mix of groups."
        ) from e
    return np.sort(test)


def _check_sklearn_strata(gstrat: np.ndarray, n_groups: int, n_test: int) -> None:
    """What ``StratifiedShuffleSplit`` needs, said in curate's terms before it refuses:
    at least 2 groups in every stratum, and at least one group per stratum on each side."""
    per = np.bincount(gstrat)
    per = per[per > 0]
    k = len(per)
    fix = (
        "Use the default --method hash (it stratifies any mix of groups) or a coarser "
        "--stratify-by."
    )
    if (per < 2).any():
        raise CurateError(
            f"--method sklearn cannot stratify: {int((per < 2).sum())} of the {k} strata hold "
            "a single group (whole groups are split, and scikit-learn's StratifiedShuffleSplit "
            f"needs at least 2 per stratum). {fix}"
        )
    if n_test < k or n_groups - n_test < k:
        side, have = ("eval", n_test) if n_test < k else ("train", n_groups - n_test)
        raise CurateError(
            f"--method sklearn cannot stratify: {side} would hold {have} groups, fewer than "
            f"the {k} strata (scikit-learn's StratifiedShuffleSplit puts at least one group of "
            "each stratum on each side). Change --eval-size/--eval-fraction, or use the "
            "default --method hash (it stratifies any mix of groups)."
        )


# -- the driver ------------------------------------------------------------------------------


def _batches(path: str) -> Iterator[list[tuple[int, bytes]]]:
    return line_batches(path, max_lines=BATCH_LINES, max_bytes=BATCH_BYTES)


def make_executor(path: str, workers: int | None) -> ProcessPoolExecutor | None:
    n = workers if workers is not None else max(1, min(os.cpu_count() or 1, 8))
    if n <= 1 or os.path.getsize(source_file(path)) < PARALLEL_MIN_BYTES:
        return None
    return fork_pool(n)


@dataclass(slots=True)
class Scan:
    """Everything pass 1 learned, as compact arrays (one row per accepted example)."""

    n_lines: int
    n_blank: int
    n_rejected: int
    line: np.ndarray
    id_hash: np.ndarray
    cluster_hash: np.ndarray
    prompt_hash: np.ndarray
    tokens: np.ndarray
    preference: np.ndarray
    #: stratum code per accepted example and the names of the codes (first-seen order)
    strata: np.ndarray | None
    strata_names: list[str]
    fields: set[str]
    #: the near-duplicate sketches of the accepted examples (a
    #: curate.dedup.group.NearGrouper), or None when near-duplicates are not grouped
    near: Any = None


def scan_file(
    path: str,
    options: SplitOptions,
    reject: Callable[[dict[str, Any]], None],
    executor: Executor | None,
    progress: Callable[[int], None] | None = None,
) -> Scan:
    """Pass 1 over ``path``: the per-example arrays; rejects go to ``reject``."""
    from curate.tokens import model_spec

    encoding = model_spec(options.model).encoding
    strat_field = None
    if options.stratify_by and options.stratify_by != "tokens":
        strat_field = options.stratify_by
    acc = ScanResult()
    n_rejected = 0
    codes = array("i")
    names: dict[str, int] = {}
    near_params, grouper = _near_grouper(options)
    tasks = (
        ScanTask(
            path,
            b,
            options.format,
            options.trl_shape,
            encoding,
            strat_field,
            near_params,
            options.reasoning,
            options.media,
            os.path.abspath(path),
        )
        for b in _batches(path)
    )
    for res in run_ordered(scan_batch, tasks, executor, in_flight=6):
        acc.n_lines += res.n_lines
        acc.n_blank += res.n_blank
        for name in ("line", "id_hash", "cluster_hash", "prompt_hash", "tokens", "preference"):
            getattr(acc, name).extend(getattr(res, name))
        codes.extend(names.setdefault(v, len(names)) for v in res.strata)
        acc.fields |= res.fields
        if grouper is not None and res.near_sketch is not None:
            grouper.add(res.near_sketch)
        for r in res.rejects:
            reject(r)
            n_rejected += 1
        if progress is not None:
            progress(res.n_lines)
    return Scan(
        n_lines=acc.n_lines,
        n_blank=acc.n_blank,
        n_rejected=n_rejected,
        line=np.frombuffer(acc.line, dtype=np.int64).copy() if acc.line else np.zeros(0, np.int64),
        id_hash=_u64(acc.id_hash),
        cluster_hash=_u64(acc.cluster_hash),
        prompt_hash=_u64(acc.prompt_hash),
        tokens=np.frombuffer(acc.tokens, dtype=np.int64).copy()
        if acc.tokens
        else np.zeros(0, np.int64),
        preference=np.array(acc.preference, dtype=bool),
        strata=np.frombuffer(codes, dtype=np.int32).astype(np.int64) if strat_field else None,
        strata_names=list(names),
        fields=acc.fields,
        near=grouper,
    )


def _u64(a: array) -> np.ndarray:
    return np.frombuffer(a, dtype=np.uint64).copy() if a else np.zeros(0, np.uint64)


def eval_target(options: SplitOptions, n: int) -> int:
    """The requested eval size in examples for ``n`` usable examples."""
    if n < 2:
        raise CurateError(f"need at least 2 usable examples to split (have {n})")
    if options.eval_size is not None:
        if options.eval_size >= n:
            raise CurateError(
                f"--eval-size {options.eval_size} leaves no training data ({n} usable examples)"
            )
        return options.eval_size
    fraction = options.fraction
    assert fraction is not None
    return min(n - 1, max(1, round(fraction * n)))


def check_input(path: str | os.PathLike[str]) -> str:
    from curate.io import check_readable, sniff_not_jsonl

    p = check_readable(path)
    if p.stat().st_size == 0:
        raise InputError(f"{path}: file is empty: no examples to split")
    sniff_not_jsonl(str(path))  # an Alpaca array, UTF-16: say what it is, run ingest first
    return str(path)


# -- pass 2: the pure export batch -------------------------------------------------------------

#: actions per accepted line in pass 2
TRAIN, EVAL, REJECT_KIND = 0, 1, 2


@dataclass(slots=True)
class ExportTask:
    file: str
    lines: list[tuple[int, bytes]]
    #: sorted line numbers of the accepted examples in this batch, and what to do with each
    accepted: list[int]
    actions: list[int]
    format: str
    trl_shape: str
    kind: str
    reasoning: str = "auto"
    media: str = "copy"
    #: the export folder, absolute (media urls are written relative to it)
    outdir: str = "."
    #: the input's absolute path (media urls resolve against its folder)
    media_base: str = ""


@dataclass(slots=True)
class ExportResult:
    #: per split: rows (JSON lines as str for JSONL formats, dicts for hf) and provenance
    rows: tuple[list[Any], list[Any]] = field(default_factory=lambda: ([], []))
    provenance: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))
    rejects: list[dict[str, Any]] = field(default_factory=list)
    n_lines: int = 0
    #: media files to write into OUTDIR/media/ (content-addressed name -> source path,
    #: or the bytes of a decoded data: URI)
    copies: dict[str, str | bytes] = field(default_factory=dict)
    #: what the exported rows carried or dropped (reasoning, tools, media)
    carried: dict[str, int] = field(default_factory=dict)


def export_batch(task: ExportTask) -> ExportResult:
    """Convert the accepted lines of one batch to the target format (pure)."""
    from collections import Counter as CountDict

    out = ExportResult()
    media = MediaPlan(task.media_base or task.file, task.outdir, task.media)
    carried: CountDict[str] = CountDict()
    todo = dict(zip(task.accepted, task.actions, strict=True))
    for line, raw in task.lines:
        out.n_lines += 1
        action = todo.get(line)
        if action is None:
            continue
        parsed = parse_line(task.file, line, raw)
        if not isinstance(parsed, Example):  # pragma: no cover - pass 1 accepted it
            raise CurateError(f"{task.file}:{line}: changed while it was being split")
        if action == REJECT_KIND:
            names = {"sft": "supervised (messages)", "preference": "preference"}
            other = "sft" if task.kind == "preference" else "preference"
            out.rejects.append(
                reject_row(
                    parsed,
                    "mixed_kinds",
                    f"a {names[other]} record in a split of {names[task.kind]} records: "
                    f"one export holds one kind; split this kind with --kind {other}",
                    raw,
                )
            )
            continue
        try:
            row = convert(
                parsed.data,
                task.format,
                trl_shape=task.trl_shape,
                record_id=parsed.id,
                reasoning=task.reasoning,
                media=media,
                stats=carried,
            )
        except ExportError as e:  # pragma: no cover - pass 1 accepted it (a media file went away)
            raise CurateError(
                f"{task.file}:{line}: changed while it was being split ({e}); run again"
            ) from e
        out.rows[action].append(row if task.format == "hf" else dumps(row))
        src = parsed.data.get("source")
        prov = {"id": parsed.id, "line": line}
        if src is not None:
            prov["source"] = src
        out.provenance[action].append(dumps(prov))
    out.copies = media.copies
    out.carried = dict(carried)
    return out


# -- the driver --------------------------------------------------------------------------------


def _near_grouper(options: SplitOptions) -> tuple[Any, Any]:
    """``(Params, NearGrouper)`` from :mod:`curate.dedup` when near-duplicates are
    grouped, else ``(None, None)``."""
    if not options.near or options.group_by not in ("both", "cluster"):
        return None, None
    from curate.dedup import Params
    from curate.dedup.group import NearGrouper

    params = Params(threshold=options.near_threshold, seed=options.seed)
    return params, NearGrouper(params)


def shingle_source(path: str, scan: Scan) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Re-reads rows of ``scan`` from ``path`` and returns their shingles (for the exact
    Jaccard of near-duplicate candidates close to the threshold; see
    :meth:`curate.dedup.group.NearGrouper.verify`)."""

    def fetch(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from curate.dedup.group import shingle_hashes
        from curate.io import iter_raw_lines

        lines = scan.line[rows]
        wanted = set(lines.tolist())
        last = int(lines.max())
        texts: dict[int, str] = {}
        for line, raw in iter_raw_lines(path):  # up to the last line wanted only
            if line in wanted:
                parsed = parse_line(path, line, raw)
                if not isinstance(parsed, Example):  # pragma: no cover - pass 1 read it
                    raise CurateError(f"{path}:{line}: changed while it was being split")
                texts[line] = "\n".join(t for _, t in norm_turns(parsed.data))
                if line == last:
                    break
        if len(texts) != len(wanted):  # pragma: no cover - pass 1 read them
            raise CurateError(f"{path}: changed while it was being split (shorter)")
        return shingle_hashes([texts[line] for line in lines.tolist()])

    return fetch


def near_edges(scan: Scan, idx: np.ndarray, path: str | None = None) -> np.ndarray:
    """Near-duplicate links between the examples ``idx`` (rows of ``scan``), as pairs of
    positions in ``idx``. Only the first copy of each exact duplicate takes part (the
    others join its group through their exact key). With ``path`` (the scanned file),
    candidates close to the threshold are checked by exact Jaccard, re-reading them."""
    keep = np.zeros(len(scan.line), dtype=bool)
    keep[idx] = True
    _, first = np.unique(scan.cluster_hash[idx], return_index=True)
    valid = np.zeros(len(scan.line), dtype=bool)
    valid[idx[first]] = True
    source = shingle_source(path, scan) if path is not None else None
    pairs = scan.near.pairs(valid & keep, shingles=source)
    pos = np.full(len(scan.line), -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx))
    return pos[pairs]


def near_info(
    options: SplitOptions, n_pairs: int, stats: dict[str, int]
) -> tuple[str, dict[str, Any]]:
    """How near-duplicates were grouped: the manifest's one-line note and its details."""
    from curate.dedup import Params
    from curate.dedup.group import BITS, EXACT_BELOW, MARGIN_SD, margin

    p = Params(threshold=options.near_threshold, seed=options.seed)
    m = margin(p.threshold, p.num_perm)
    hi = round(p.threshold + m, 4)
    checked = round(p.threshold - max(m, EXACT_BELOW), 4)
    fallback = round(p.threshold - m, 4)
    note = f"grouped (curate.dedup MinHash, Jaccard >= {p.threshold})"
    return note, {
        "method": "minhash_lsh",
        "threshold": p.threshold,
        "num_perm": p.num_perm,
        "signature_bits": BITS,
        "shingle_words": p.shingle,
        "margin_sd": MARGIN_SD,
        "estimate_links_from": hi,
        "exact_jaccard_checked_from": checked,
        "over_budget_links_from": fallback,
        "candidates": stats.get("candidates", 0),
        "verified_exact_jaccard": stats.get("exact_jaccard", 0),
        "decided_by_estimate": stats.get("estimate", 0),
        "pairs_linked": n_pairs,
        "note": (
            "shingles are not kept: a candidate pair whose signature estimate is at least "
            f"{hi} is linked; from {checked} (as curate dedup) up to that, the pair is "
            "re-read and its exact Jaccard decides (past a 32M-shingle budget, the "
            f"estimate links from {fallback}); under {checked} it is not linked"
        ),
    }


def write_split(
    path: str,
    outdir: Path,
    options: SplitOptions,
    plan: OutputPlan,
    *,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """The two passes and every output file, written through ``plan`` (committed by the
    caller); see :func:`split_path`. ``executor`` runs the scan and export batches
    elsewhere (the Ray engine's, :mod:`curate.engine`); default: the local pool."""
    from collections import Counter as CountDict

    import curate
    from curate.export import (
        axolotl_block,
        file_sha256,
        json_text,
        llamafactory_entry,
        save_hf_dataset,
    )
    from curate.tokens import model_spec

    reasons: CountDict[str] = CountDict()
    first_message: dict[str, str] = {}  # per reason, for an error when nothing is left
    executor = make_executor(path, options.workers) if executor is None else executor
    try:
        rej_f = plan.open("rejected.jsonl")
        if True:  # (the rejects file stays open until the plan commits)

            def reject(row: dict[str, Any]) -> None:
                if row["reason"] not in reasons:
                    first_message[row["reason"]] = str(row.get("message", ""))
                reasons[row["reason"]] += 1
                rej_f.write(dumps(row))
                rej_f.write("\n")

            scan = scan_file(path, options, reject, executor, progress)
            n_read = scan.n_lines - scan.n_blank
            # one export holds one kind (trainers take one method per file): the one asked
            # for, else the majority's (ties go to supervised data)
            n_pref = int(np.count_nonzero(scan.preference))
            kind = options.kind
            if kind == "auto":
                kind = "preference" if n_pref * 2 > len(scan.preference) else "sft"
            keep = scan.preference == (kind == "preference")
            n_mixed = int((~keep).sum())
            idx = np.flatnonzero(keep)
            n = len(idx)
            try:
                n_eval = eval_target(options, n)
            except CurateError as e:
                if not reasons:
                    raise
                top = reasons.most_common(1)[0][0]
                raise CurateError(
                    f"{e}: {sum(reasons.values()):,} of {n_read:,} examples were rejected ("
                    + ", ".join(f"{r}: {c:,}" for r, c in reasons.most_common())
                    + f"); the first {top}: {first_message[top]}"
                ) from None
            labels, n_groups, note, near_detail = _group(scan, idx, options, path)
            if scan.near is not None:
                scan.near.release()  # the signatures are not needed for the rest
            strata_codes, strata_names = _strata(scan, idx, options)
            is_eval = assign_eval(
                labels,
                scan.id_hash[idx],
                n_eval,
                options.seed,
                strata=strata_codes,
                method=options.method,
            )
            _check_sides(is_eval, labels, n_groups, n_eval)
            actions = np.full(len(scan.line), REJECT_KIND, dtype=np.int8)
            actions[idx] = np.where(is_eval, EVAL, TRAIN)
            carried: dict[str, int] = {}
            files = _pass2(
                path, plan, options, scan, actions, kind, reject, executor, outdir, carried
            )
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)

    split_names = ("train", "eval")
    if options.format == "hf":
        save_hf_dataset(
            outdir,
            {s: plan.temp_path(f"{s}.parquet") for s in split_names},
            target=plan.temp_path("hf"),
        )
    data_files = {
        s: f"{s}.parquet" if options.format == "hf" else f"{s}.jsonl" for s in split_names
    }
    configs: list[str] = []
    entry = {
        s: llamafactory_entry(
            options.format,
            kind,
            data_files[s],
            fields=scan.fields,
            reasoning=options.reasoning,
        )
        for s in split_names
    }
    if entry["train"]:
        plan.write_text(
            "dataset_info.json", json_text({f"curate_{s}": entry[s] for s in split_names})
        )
        configs.append("dataset_info.json")
    block = axolotl_block(
        options.format,
        kind,
        str(outdir / data_files["train"]),
        str(outdir / data_files["eval"]),
        trl_shape=options.trl_shape,
        fields=scan.fields,
        reasoning=options.reasoning,
    )
    if block:
        plan.write_text(
            "axolotl.yaml", "# paste into your axolotl config (written by curate split)\n" + block
        )
        configs.append("axolotl.yaml")

    files["rejected.jsonl"] = {"rows": sum(reasons.values())}
    for name in configs:
        files[name] = {}
    tokens = scan.tokens[idx]
    train_mask = ~is_eval
    eval_labels = np.unique(labels[is_eval])
    train_labels = np.unique(labels[train_mask])
    sizes = np.bincount(labels, minlength=n_groups) if n else np.zeros(0, np.int64)
    manifest: dict[str, Any] = {
        "curate_version": curate.__version__,
        "input": {
            "path": path,
            "sha256": file_sha256(path),
            "bytes": os.path.getsize(source_file(path)),
        },
        "seed": options.seed,
        "options": options.to_dict(),
        "kind": kind,
        "counts": {
            "read": n_read,
            "blank_lines": scan.n_blank,
            "train": int(train_mask.sum()),
            "eval": int(is_eval.sum()),
            "eval_target": n_eval,
            "rejected": sum(reasons.values()),
            "rejected_by_reason": dict(sorted(reasons.items())),
        },
        "tokens": {
            "encoding": model_spec(options.model).encoding,
            "train": int(tokens[train_mask].sum()),
            "eval": int(tokens[is_eval].sum()),
        },
        "groups": {
            "by": options.group_by,
            "near_duplicates": note,
            "total": n_groups,
            "train": len(train_labels),
            "eval": len(eval_labels),
            "multi_example": int((sizes > 1).sum()),
            "largest": int(sizes.max()) if len(sizes) else 0,
        },
        **({"near_duplicates": near_detail} if near_detail else {}),
        "leakage": _leakage(labels, is_eval, scan, idx),
        "files": {
            name: {"sha256": file_sha256(plan.close(name)), **info}
            for name, info in sorted(files.items())
        },
        "trainer_configs": configs,
        "carried": carried_report(options, kind, scan.fields, carried, reasons, configs),
    }
    if options.format == "hf":
        manifest["files"]["hf/"] = {"sha256": _folder_sha256(plan.temp_path("hf"))}
    if carried.get("media_files_copied"):
        manifest["files"]["media/"] = {
            "files": carried["media_files_copied"],
            "sha256": _folder_sha256(plan.temp_path("media")),
        }
    if strata_codes is not None:
        manifest["strata"] = _strata_report(strata_codes, strata_names, is_eval, n_eval)
    assert n_mixed == reasons.get("mixed_kinds", 0)
    assert n_read == manifest["counts"]["train"] + manifest["counts"]["eval"] + sum(
        reasons.values()
    )
    plan.write_text("manifest.json", json_text(manifest))
    return manifest


def carried_report(
    options: SplitOptions,
    kind: str,
    fields: set[str],
    counts: dict[str, int],
    reasons: dict[str, int],
    configs: list[str],
) -> dict[str, Any]:
    """The manifest's ``carried``: how the export wrote reasoning, tools and media, how
    many of each it carried, dropped or rejected, and which trainer configs were left
    out and why."""
    from curate.export import reasoning_mode

    mode = reasoning_mode(options.format, options.reasoning)
    how = {
        "field": "reasoning_content on assistant messages",
        "inline": "inline <think>...</think> block before the answer",
        "drop": "dropped (--reasoning drop)",
        "reject": "records with a trace rejected (cannot_carry_reasoning)",
    }[mode]
    media_how = {
        "copy": "local files (and data: URIs, decoded) written to media/ once, "
        "content-addressed names",
        "rewrite": "local paths rewritten relative to the output folder",
        "embed": "local files embedded as data: URIs",
    }[options.media]
    if options.format == "hf":
        media_how = "images as datasets.Image (bytes in the files); video/audio " + media_how
    out: dict[str, Any] = {
        "reasoning": {
            "as": how,
            "messages_carried": counts.get("reasoning_field", 0)
            + counts.get("reasoning_inline", 0),
            "messages_dropped": counts.get("reasoning_dropped", 0),
            "records_rejected": reasons.get("cannot_carry_reasoning", 0),
        },
        "tools": {
            "records_with_tools": counts.get("records_with_tools", 0),
            "tool_calls": counts.get("tool_calls", 0),
            "tool_results": counts.get("tool_results", 0),
            "records_rejected": sum(
                reasons.get(r, 0) for r in ("tools_not_supported", "tool_call_with_text")
            ),
        },
        "weights": {
            "as": "kept (weight)" if options.format == "openai" else "not in this format",
            "messages_carried": counts.get("weights_carried", 0),
            "messages_dropped": counts.get("weights_dropped", 0),
            "zero_weight_dropped": counts.get("weight_zero_dropped", 0),
        },
        "media": {
            "as": media_how,
            **{
                k: counts.get(k, 0)
                for k in ("images", "audios", "videos", "media_files_copied", "media_bytes_copied")
            },
            "remote_urls_kept": sum(counts.get(f"{k}s_remote", 0) for k in MEDIA_KINDS),
            "records_rejected": sum(
                n
                for r, n in reasons.items()
                if r.startswith("media_") or r == "placeholder_in_text"
            ),
        },
    }
    from curate.export import axolotl_gap, llamafactory_gap

    gaps = {
        "dataset_info.json": llamafactory_gap(
            options.format, kind, fields=fields, reasoning=options.reasoning
        ),
        "axolotl.yaml": axolotl_gap(
            options.format, kind, trl_shape=options.trl_shape, fields=fields
        ),
    }
    not_written = {c: why for c, why in gaps.items() if why and c not in configs}
    if not_written:
        out["trainer_configs_not_written"] = not_written
    return out


MEDIA_KINDS = ("image", "audio", "video")


def _group(
    scan: Scan, idx: np.ndarray, options: SplitOptions, path: str | None = None
) -> tuple[np.ndarray, int, str, dict[str, Any] | None]:
    """Group labels of the examples ``idx``, their count, and the manifest's note and
    details on near-duplicates."""
    keys: list[np.ndarray] = []
    edges = None
    note = "not grouped (--group-by excludes clusters)"
    detail = None
    if options.group_by in ("both", "cluster"):
        keys.append(scan.cluster_hash[idx])
        if scan.near is not None:
            edges = near_edges(scan, idx, path)
            note, detail = near_info(options, len(edges), scan.near.stats)
        else:
            note = "not grouped (near=false)"
    if options.group_by in ("both", "prompt"):
        keys.append(scan.prompt_hash[idx])
    labels, n_groups = group_labels(len(idx), keys, edges)
    return labels, n_groups, note, detail


def _check_sides(is_eval: np.ndarray, labels: np.ndarray, n_groups: int, n_eval: int) -> None:
    n_ev = int(is_eval.sum())
    if 0 < n_ev < len(is_eval):
        return
    sizes = np.bincount(labels, minlength=n_groups)
    groups = "one group" if n_groups == 1 else f"{n_groups:,} groups"
    side = "eval" if n_ev == 0 else "train"
    raise CurateError(
        f"{side} would be empty: the {len(is_eval):,} usable examples form {groups} "
        f"(smallest {int(sizes.min()):,}, largest {int(sizes.max()):,} examples) and no set "
        f"of whole groups comes near the eval target of {n_eval:,}. Loosen the grouping "
        "(--group-by cluster or none) or change --eval-size/--eval-fraction."
    )


def _strata(
    scan: Scan, idx: np.ndarray, options: SplitOptions
) -> tuple[np.ndarray | None, list[str]]:
    """Stratum codes of the kept examples, renumbered so that names sort."""
    if not options.stratify_by:
        return None, []
    if options.stratify_by == "tokens":
        bounds = np.array(TOKEN_BUCKETS)
        raw = np.searchsorted(bounds, scan.tokens[idx], side="left")
        all_names = [token_bucket(int(b)) for b in bounds] + [f">{TOKEN_BUCKETS[-1]}"]
    else:
        assert scan.strata is not None
        raw = scan.strata[idx]
        all_names = scan.strata_names
    used = np.unique(raw)
    names = [all_names[int(u)] for u in used]
    order = sorted(range(len(names)), key=lambda k: names[k])
    remap = np.zeros(len(all_names), dtype=np.int64)
    for new, k in enumerate(order):
        remap[used[k]] = new
    return remap[raw], [names[k] for k in order]


def _strata_report(
    codes: np.ndarray, names: list[str], is_eval: np.ndarray, n_eval: int
) -> dict[str, Any]:
    n = len(codes)
    total = np.bincount(codes, minlength=len(names))
    ev = np.bincount(codes[is_eval], minlength=len(names))
    return {
        name: {
            "examples": int(total[i]),
            "eval": int(ev[i]),
            "eval_target": round(float(total[i]) * n_eval / n, 3),
        }
        for i, name in enumerate(names)
    }


def _leakage(
    labels: np.ndarray, is_eval: np.ndarray, scan: Scan, idx: np.ndarray
) -> dict[str, int]:
    """Checked on the final assignment, independently of how it was made."""
    tr, ev = ~is_eval, is_eval
    prompts = scan.prompt_hash[idx]
    has_prompt = prompts != 0
    return {
        "groups_straddling": len(np.intersect1d(labels[tr], labels[ev])),
        "shared_duplicate_keys": len(
            np.intersect1d(scan.cluster_hash[idx][tr], scan.cluster_hash[idx][ev])
        ),
        "shared_prompts": len(np.intersect1d(prompts[tr & has_prompt], prompts[ev & has_prompt])),
    }


def _folder_sha256(folder: Path) -> str:
    from curate.export import file_sha256

    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(
            f.relative_to(folder).as_posix().encode() + b"\0" + file_sha256(f).encode() + b"\n"
        )
    return h.hexdigest()


def _pass2(
    path: str,
    plan: OutputPlan,
    options: SplitOptions,
    scan: Scan,
    actions: np.ndarray,
    kind: str,
    reject: Callable[[dict[str, Any]], None],
    executor: Executor | None,
    outdir: Path | None = None,
    carried: dict[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Pass 2: the data files, provenance, and media copied into ``media/``; adds what
    the rows carried or dropped to ``carried``."""
    import contextlib
    import shutil

    from curate.export import ParquetSink, hf_schema, reasoning_mode

    names = ("train", "eval")
    counts = [0, 0]
    copied: dict[str, int] = {}  # media name -> bytes
    carried = {} if carried is None else carried
    out_str = os.path.abspath(outdir if outdir is not None else Path(path).parent)
    lines = scan.line
    act = actions.tolist()

    def tasks() -> Iterator[ExportTask]:
        for b in _batches(path):
            lo = int(np.searchsorted(lines, b[0][0], side="left"))
            hi = int(np.searchsorted(lines, b[-1][0], side="right"))
            yield ExportTask(
                path,
                b,
                lines[lo:hi].tolist(),
                act[lo:hi],
                options.format,
                options.trl_shape,
                kind,
                options.reasoning,
                options.media,
                out_str,
                os.path.abspath(path),
            )

    with contextlib.ExitStack() as stack:
        prov = [plan.open(f"{s}.provenance.jsonl") for s in names]
        if options.format == "hf":
            keep = "reasoning" in scan.fields
            keep = keep and reasoning_mode("hf", options.reasoning) == "field"
            schema = hf_schema(kind, scan.fields, reasoning=keep)
            sinks = [
                ParquetSink(plan.temp_path(f"{s}.parquet"), schema, direct=True) for s in names
            ]

            def abort_open() -> None:
                for sink in sinks:
                    if sink.writer.is_open:
                        sink.abort()

            stack.callback(abort_open)
            data_files = [f"{s}.parquet" for s in names]
        else:
            outs = [plan.open(f"{s}.jsonl") for s in names]
            data_files = [f"{s}.jsonl" for s in names]
        for res in run_ordered(export_batch, tasks(), executor, in_flight=6):
            for i in (0, 1):
                rows = res.rows[i]
                counts[i] += len(rows)
                if options.format == "hf":
                    for r in rows:
                        sinks[i].write(r)
                elif rows:
                    outs[i].write("\n".join(rows))
                    outs[i].write("\n")
                if res.provenance[i]:
                    prov[i].write("\n".join(res.provenance[i]))
                    prov[i].write("\n")
            for r in res.rejects:
                reject(r)
            for k, v in res.carried.items():
                carried[k] = carried.get(k, 0) + v
            for name, src in sorted(res.copies.items()):
                if name not in copied:
                    folder = plan.temp_path("media")
                    folder.mkdir(parents=True, exist_ok=True)
                    if isinstance(src, bytes):  # a decoded data: URI
                        (folder / name).write_bytes(src)
                    else:
                        shutil.copyfile(src, folder / name)
                    copied[name] = os.path.getsize(folder / name)
        if options.format == "hf":
            for sink in sinks:
                sink.close()
    files: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(names):
        files[data_files[i]] = {"rows": counts[i]}
        files[f"{s}.provenance.jsonl"] = {"rows": counts[i]}
    if copied:
        carried["media_files_copied"] = len(copied)
        carried["media_bytes_copied"] = sum(copied.values())
    return files


def split_path(
    path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    options: SplitOptions,
    *,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Split ``path`` (canonical chat JSONL) into ``outdir``; the Python twin of
    ``curate split``. Returns the manifest (also written to ``outdir/manifest.json``).
    ``executor`` runs the scan and export batches elsewhere (:mod:`curate.engine`).

    Raises:
        CurateError: bad options, too few usable examples, an unreadable input.

    Example:
        >>> import json, os, tempfile
        >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.jsonl")
        >>> with open(src, "w") as f:
        ...     for i in range(10):
        ...         msgs = [{"role": "user", "content": f"q{i}"},
        ...                 {"role": "assistant", "content": f"a{i}"}]
        ...         _ = f.write(json.dumps({"messages": msgs}) + "\\n")
        >>> m = split_path(src, os.path.join(d, "out"), SplitOptions(eval_size=2, near=False))
        >>> m["counts"]["train"], m["counts"]["eval"], m["leakage"]["groups_straddling"]
        (8, 2, 0)
    """
    options.check()
    src = check_input(path)
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise CurateError(f"{outdir}: exists and is not a folder; -o takes a folder name")
    plan = OutputPlan([src], "split")
    data = "parquet" if options.format == "hf" else "jsonl"
    for name in (
        f"train.{data}",
        f"eval.{data}",
        "train.provenance.jsonl",
        "eval.provenance.jsonl",
        "rejected.jsonl",
        "dataset_info.json",
        "axolotl.yaml",
    ):
        plan.add(name, out / name)
    if options.format == "hf":
        plan.add("hf", out / "hf", folder=True)
    plan.add("media", out / "media", folder=True)  # written only when media are copied
    plan.add("manifest.json", out / "manifest.json", last=True)
    with plan.writing():
        manifest = write_split(src, out, options, plan, progress=progress, executor=executor)
        plan.commit()
    return manifest


# ``curate.split(...)`` is the library function (curate.api) even once this module is imported
from curate.stage import callable_module  # noqa: E402

callable_module(__name__)
