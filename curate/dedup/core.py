"""The duplicate finder: pure per-batch features, then one corpus-wide solve.

:func:`featurize` is the heavy, pure half (runs in worker processes): for a batch of
records it computes exact keys, prompt and answer keys, containment keys, shingles and
MinHash signatures, all as flat numpy arrays. :class:`DuplicateIndex` (main process)
appends batches and :meth:`DuplicateIndex.solve` decides, deterministically:

1. *contamination*: a training document that exactly or nearly duplicates (or contains,
   or is contained in) a reference (eval) document is removed, with its exact copies;
2. *edges*: exact copies (equal normalised text), near duplicates (LSH candidates
   verified by exact Jaccard) and containment (a conversation whose turns are a
   contiguous run of another's, directed) among the other training documents;
3. *components*: the connected components of those edges, each decided by
   :func:`curate.dedup.resolve.resolve_component` (contained conversations removed in
   favour of a container, near duplicates in stars around kept representatives that
   never chain, the copy kept chosen by the keep rule).

Example:
    >>> recs = [{"messages": [{"role": "user", "content": "tell me a story about a cat"},
    ...                       {"role": "assistant", "content": "once upon a time a cat sat"}]},
    ...         {"messages": [{"role": "user", "content": "Tell me a story about a cat"},
    ...                       {"role": "assistant", "content": "Once upon a time a cat sat"}]}]
    >>> idx = DuplicateIndex()
    >>> _ = idx.add(featurize(recs, idx.params))
    >>> plan = idx.solve()
    >>> plan.status.tolist(), plan.dup_of.tolist()
    ([0, 1], [-1, 0])
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from curate.dedup.lsh import ShingleStore, candidates, lsh_params, verify
from curate.dedup.minhash import MinHasher, shingle_batch
from curate.dedup.resolve import (
    CONTAINED,
    CONTAINS,
    CONTAMINATED,
    EXACT,
    KEEP_RULES,
    KEPT,
    NEAR,
    SIMILAR,
    STATUS_NAMES,
    Edge,
    MemberInfo,
    resolve_component,
)
from curate.dedup.text import (
    check_reasoning,
    check_scope,
    normalize_text,
    pick_turns,
    raw_turns,
    reasoning_chars,
    turn_digest,
)

#: how a removed document was matched
BY_JACCARD, BY_CONTAINMENT = 0, 1
#: a cluster holding more than this share of the input, and at least
#: ``LARGE_CLUSTER_MIN`` examples, is reported (``large_duplicate_cluster``): so much data
#: lost to one kept example deserves a look (the minimum keeps small files quiet)
LARGE_CLUSTER_SHARE = 0.01
LARGE_CLUSTER_MIN = 10


def is_large_cluster(size: int, total: int) -> bool:
    """Whether a cluster of ``size`` examples out of ``total`` is reported.

    Example:
        >>> is_large_cluster(12, 1000), is_large_cluster(2, 11), is_large_cluster(10, 1000)
        (True, False, False)
    """
    return size >= LARGE_CLUSTER_MIN and size > LARGE_CLUSTER_SHARE * total


MAX_WINDOW_TURNS = 64
_ZERO8 = b"\0" * 8


@dataclass(frozen=True, slots=True)
class Params:
    """What the features depend on (keep identical across batches of one run).

    Args:
        threshold: Jaccard similarity at or above which two documents are near duplicates.
        scope: ``conversation``, ``user`` or ``assistant`` (see :mod:`curate.dedup.text`).
        num_perm: MinHash signature length.
        shingle: words per shingle.
        seed: fixes the MinHash functions.
        near: ``False`` finds exact duplicates only (no shingles, no signatures).
        containment: remove a conversation whose turns are a contiguous run of another's
            (``conversation`` scope, with ``near``).
        keep: which copy of a cluster is kept: ``longest`` (more turns, then longer
            assistant text, reasoning traces included, then input order) or ``first``
            (input order).
        reasoning: ``exclude`` (default) compares assistant turns without their reasoning
            traces; ``include`` compares the traces too (:mod:`curate.dedup.text`).
    """

    threshold: float = 0.8
    scope: str = "conversation"
    num_perm: int = 128
    shingle: int = 3
    seed: int = 0
    near: bool = True
    containment: bool = True
    keep: str = "longest"
    reasoning: str = "exclude"

    def __post_init__(self) -> None:
        check_scope(self.scope)
        check_reasoning(self.reasoning)
        if self.keep not in KEEP_RULES:
            raise ValueError(f"unknown keep rule {self.keep!r}: use one of {', '.join(KEEP_RULES)}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 1 or self.shingle < 1:
            raise ValueError("num_perm and shingle must be >= 1")


@lru_cache(maxsize=8)
def _hasher(num_perm: int, seed: int) -> MinHasher:
    return MinHasher(num_perm, seed)


@dataclass(slots=True)
class Features:
    """Features of a batch of ``n`` records, as flat arrays (cheap to pickle)."""

    exact: np.ndarray  # (n,) S16: normalised turns in scope
    prompt: np.ndarray  # (n,) S16: system + user turns
    answer: np.ndarray  # (n,) S16: assistant turns (final answers, without traces)
    conv: np.ndarray  # (n,) S8: non-system turn sequence (zeros when < 2 turns)
    n_turns: np.ndarray  # (n,) int32: non-system turns
    answer_chars: np.ndarray  # (n,) int64: characters of the normalised assistant turns and traces
    windows: dict[int, np.ndarray]  # doc -> S8 keys of its inner contiguous turn runs
    sig: np.ndarray  # (n, num_perm) uint32, or (n, 0) when near is off
    sh_flat: np.ndarray  # uint32, the stored shingles (see sh_stored)
    sh_len: np.ndarray  # (n,) int64: shingles per document
    #: (n,) bool: the document's shingles are in ``sh_flat`` (``None``: all are)
    sh_stored: np.ndarray | None = None

    def stored(self) -> np.ndarray:
        if self.sh_stored is None:
            return np.ones(len(self.sh_len), dtype=bool)
        return self.sh_stored

    def __len__(self) -> int:
        return len(self.exact)


def _seq_key(hs: Sequence[bytes]) -> bytes:
    return hashlib.blake2b(b"".join(hs), digest_size=8).digest()


def featurize(records: Sequence[Any], params: Params) -> Features:
    """Pure: the features of ``records`` (parsed JSON values) under ``params``."""
    n = len(records)
    exact = np.empty(n, dtype="S16")
    prompt = np.empty(n, dtype="S16")
    answer = np.empty(n, dtype="S16")
    conv = np.empty(n, dtype="S8")
    n_turns = np.zeros(n, dtype=np.int32)
    answer_chars = np.zeros(n, dtype=np.int64)
    windows: dict[int, np.ndarray] = {}
    texts: list[str] = []
    scope = params.scope
    for i, rec in enumerate(records):
        turns = [(role, normalize_text(text)) for role, text in raw_turns(rec, params.reasoning)]
        picked = pick_turns(turns, scope)
        exact[i] = turn_digest(picked)
        prompt[i] = turn_digest(pick_turns(turns, "user"))
        answers = pick_turns(turns, "assistant")
        answer_chars[i] = sum(len(t) for _, t in answers)
        if params.reasoning == "exclude":
            answer[i] = turn_digest(answers)
            answer_chars[i] += reasoning_chars(rec)  # a trace is information, even uncompared
        else:  # conflicting answers are different final answers, whatever the traces
            final = [(r, normalize_text(t)) for r, t in raw_turns(rec) if r == "assistant"]
            answer[i] = turn_digest(final)
        n_turns[i] = sum(1 for r, _ in turns if r not in ("system", "developer"))
        if scope == "conversation":
            th = [_turn_hash(r, t) for r, t in turns if r not in ("system", "developer")]
            conv[i] = _seq_key(th) if len(th) >= 2 else _ZERO8
            t = len(th)
            if 3 <= t <= MAX_WINDOW_TURNS:
                windows[i] = np.array(
                    [_seq_key(th[a:b]) for a in range(t) for b in range(a + 2, t + 1) if b - a < t],
                    dtype="S8",
                )
        else:
            conv[i] = _ZERO8
        if params.near:
            texts.append("\n".join(txt for _, txt in picked))
    if params.near:
        sh_flat, sh_len = shingle_batch(texts, params.shingle)
        sig = _hasher(params.num_perm, params.seed).signatures_flat(sh_flat, sh_len)
    else:
        sig = np.zeros((n, 0), dtype=np.uint32)
        sh_len = np.zeros(n, dtype=np.int64)
        sh_flat = np.zeros(0, np.uint32)
    return Features(exact, prompt, answer, conv, n_turns, answer_chars, windows, sig, sh_flat,
                    sh_len)  # fmt: skip


def _turn_hash(role: str, text: str) -> bytes:
    data = f"{role}\x1f{text}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8).digest()


@dataclass
class Plan:
    """The decision for every document, in input order (reference documents included).

    ``status[i]`` is KEPT, EXACT, NEAR, CONTAINED or CONTAMINATED; ``dup_of[i]`` the
    document it duplicates directly (-1 when kept): the representative for a near
    duplicate, the copy kept for an exact one (or the copy standing for a removed
    node), the container for a contained one, the reference document for a
    contaminated one; ``rep[i]`` the kept document it is attributed to (itself when
    kept; the reference document for a contaminated one); ``similarity[i]`` its
    similarity to ``dup_of`` (1.0 for exact, the turn ratio for containment);
    ``rep_similarity[i]`` to ``rep`` (NaN when not known: see
    :class:`curate.dedup.resolve.Assignment`); ``how[i]`` BY_JACCARD or BY_CONTAINMENT
    for a removed one. ``conflicts`` lists groups of training documents that share a
    prompt but not the answers, among the kept ones.
    """

    status: np.ndarray
    dup_of: np.ndarray
    rep: np.ndarray
    similarity: np.ndarray
    how: np.ndarray
    is_ref: np.ndarray
    rep_similarity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    pair_sims: np.ndarray = field(default_factory=lambda: np.zeros(0))
    conflicts: list[list[int]] = field(default_factory=list)

    def clusters(self) -> dict[int, list[int]]:
        """representative -> members (the representative first, then input order), for
        clusters of >= 2 training documents (contaminated ones are not clusters)."""
        out: dict[int, list[int]] = {}
        removed = (self.status == EXACT) | (self.status == NEAR) | (self.status == CONTAINED)
        for i in np.flatnonzero(removed).tolist():
            out.setdefault(int(self.rep[i]), []).append(i)
        return {r: [r, *m] for r, m in sorted(out.items())}

    def counts(self) -> dict[str, int]:
        train = ~self.is_ref
        return {
            "kept": int(((self.status == KEPT) & train).sum()),
            "removed_exact": int(((self.status == EXACT) & train).sum()),
            "removed_near": int(((self.status == NEAR) & train).sum()),
            "removed_contained": int(((self.status == CONTAINED) & train).sum()),
            "removed_contaminated": int(((self.status == CONTAMINATED) & train).sum()),
        }

    def keep_within(self) -> None:
        """Undo the decisions within the training documents (keep every duplicate),
        leaving contamination: ``--decontaminate-only``."""
        within = (self.status == EXACT) | (self.status == NEAR) | (self.status == CONTAINED)
        self.status[within] = KEPT
        self.dup_of[within] = -1
        self.rep[within] = np.flatnonzero(within)
        self.similarity[within] = 0.0
        self.rep_similarity[within] = 1.0


class DuplicateIndex:
    """Collects :class:`Features` batches (training and reference documents) and solves.

    Args:
        params: see :class:`Params`; must match the one the features were made with.
    """

    #: small batches (one example each, from ``validate``) are joined in groups of this
    #: many, so memory does not go to per-batch overhead
    JOIN_EVERY = 1024

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self._batches: list[Features] = []
        self._ref: list[np.ndarray] = []
        self._pending: list[Features] = []
        self._pending_ref: list[np.ndarray] = []
        self.n = 0

    def add(self, feats: Features, *, reference: bool = False) -> range:
        """Append a batch; returns the document indices it got."""
        self._pending.append(feats)
        self._pending_ref.append(np.full(len(feats), reference, dtype=bool))
        if len(self._pending) >= self.JOIN_EVERY:
            self._flush()
        start = self.n
        self.n += len(feats)
        return range(start, self.n)

    def _flush(self) -> None:
        if self._pending:
            self._batches.append(self._join(self._pending))
            self._ref.append(np.concatenate(self._pending_ref))
            self._pending, self._pending_ref = [], []

    def features(self) -> Features:
        """All features added so far, as one batch."""
        return self._concat()[0]

    def _join(self, bs: list[Features]) -> Features:
        if len(bs) == 1:
            return bs[0]
        p = self.params.num_perm if self.params.near else 0
        windows: dict[int, np.ndarray] = {}
        off = 0
        for b in bs:
            for k, v in b.windows.items():
                windows[off + k] = v
            off += len(b)

        def cat(name: str, dtype: Any, shape: tuple[int, ...] = (0,)) -> np.ndarray:
            arrs = [getattr(b, name) for b in bs]
            return np.concatenate(arrs) if arrs else np.zeros(shape, dtype=dtype)

        return Features(
            cat("exact", "S16"),
            cat("prompt", "S16"),
            cat("answer", "S16"),
            cat("conv", "S8"),
            cat("n_turns", np.int32),
            cat("answer_chars", np.int64),
            windows,
            cat("sig", np.uint32, (0, p)),
            cat("sh_flat", np.uint32),
            cat("sh_len", np.int64),
            np.concatenate([b.stored() for b in bs]) if bs else np.zeros(0, bool),
        )

    def _concat(self) -> tuple[Features, np.ndarray]:
        self._flush()
        if not self._batches:
            self._batches = [featurize([], self.params)]
            self._ref = [np.zeros(0, bool)]
        f = self._join(self._batches)
        is_ref = np.concatenate(self._ref)
        # the batches are now held once, in the joined arrays
        self._batches = [f]
        self._ref = [is_ref]
        return f, is_ref

    def solve(self) -> Plan:
        """Decide every document (deterministic: depends only on the order and content).

        Candidate pairs are verified by the exact Jaccard of their shingles, or by the
        signature estimate when a document's shingles were not kept.
        """
        f, is_ref = self._concat()
        n = len(f)
        plan = Plan(
            status=np.zeros(n, dtype=np.int8),
            dup_of=np.full(n, -1, dtype=np.int64),
            rep=np.arange(n, dtype=np.int64),
            similarity=np.zeros(n, dtype=np.float64),
            how=np.zeros(n, dtype=np.int8),
            is_ref=is_ref,
            rep_similarity=np.ones(n, dtype=np.float64),
        )
        if n == 0:
            return plan
        p = self.params

        # exact keys: the first copy of each among references and among training docs
        _, inverse = np.unique(f.exact, return_inverse=True)
        inverse = inverse.ravel()
        n_keys = int(inverse.max()) + 1
        ref_first = _first_per_key(inverse, is_ref)
        train_first = _first_per_key(inverse, ~is_ref)
        # contamination is decided per key (every copy goes): an exact match first
        leak_to = ref_first.copy()
        leak_sim = np.where(leak_to >= 0, 1.0, 0.0)
        leak_how = np.full(n_keys, BY_JACCARD, dtype=np.int8)
        uniq = np.zeros(n, dtype=bool)  # the documents pairs are looked for among
        uniq[ref_first[ref_first >= 0]] = True
        tf = train_first[train_first >= 0]
        uniq[tf[ref_first[inverse[tf]] < 0]] = True

        pair_sets: list[tuple[np.ndarray, np.ndarray, int]] = []
        if p.near and f.sig.shape[1]:
            bands, rows = lsh_params(p.threshold, p.num_perm)
            cand = candidates(f.sig, bands, rows, uniq & (f.sh_len > 0))
            stored = f.stored()
            store = ShingleStore(f.sh_flat, np.where(stored, f.sh_len, 0))
            plan.pairs, plan.pair_sims = verify(cand, f.sig, store, p.threshold, exact=stored)
            pair_sets.append((plan.pairs, plan.pair_sims, SIMILAR))
        if p.near and f.windows:
            cpairs, csims = _containment(f, uniq)
            pair_sets.append((cpairs, csims, CONTAINS))

        # contamination by a near or containment match (either direction): the best one
        for pairs, sims, kind in pair_sets:
            ri, rj = is_ref[pairs[:, 0]], is_ref[pairs[:, 1]]
            one = ri ^ rj
            t = np.where(ri, pairs[:, 1], pairs[:, 0])[one]
            r = np.where(ri, pairs[:, 0], pairs[:, 1])[one]
            sm = sims[one]
            how = BY_CONTAINMENT if kind == CONTAINS else BY_JACCARD
            for k in np.lexsort((r, -sm, t)).tolist():
                key = int(inverse[t[k]])
                old, old_sim = leak_to[key], leak_sim[key]
                better = sm[k] > old_sim or (sm[k] == old_sim and r[k] < old)
                if ref_first[key] < 0 and (old < 0 or better):
                    leak_to[key], leak_sim[key], leak_how[key] = r[k], sm[k], how
        train = np.flatnonzero(~is_ref)
        g = inverse[train]
        hit = train[leak_to[g] >= 0]
        gh = inverse[hit]
        plan.status[hit] = CONTAMINATED
        plan.dup_of[hit] = leak_to[gh]
        plan.rep[hit] = leak_to[gh]
        plan.similarity[hit] = plan.rep_similarity[hit] = leak_sim[gh]
        plan.how[hit] = leak_how[gh]

        # the graph over the other training documents, then one resolution per component
        clean = ~is_ref & (plan.status == KEPT)
        edges: list[np.ndarray] = []
        kinds: list[np.ndarray] = []
        sims_l: list[np.ndarray] = []
        for pairs, sims, kind in pair_sets:
            if kind == CONTAINS and not p.containment:
                continue
            ok = clean[pairs[:, 0]] & clean[pairs[:, 1]]
            edges.append(pairs[ok])
            sims_l.append(sims[ok])
            kinds.append(np.full(int(ok.sum()), kind, dtype=np.int8))
        copies = train[clean[train] & (train_first[g] != train)]
        edges.append(np.stack([train_first[inverse[copies]], copies], axis=1))
        sims_l.append(np.ones(len(copies)))
        kinds.append(np.full(len(copies), -1, dtype=np.int8))  # exact: connects only
        _resolve_all(plan, f, np.concatenate(edges), np.concatenate(sims_l),
                     np.concatenate(kinds), p.keep)  # fmt: skip
        plan.conflicts = _conflicts(f, is_ref, plan.status)
        return plan


def _resolve_all(
    plan: Plan, f: Features, pairs: np.ndarray, sims: np.ndarray, kinds: np.ndarray, keep: str
) -> None:
    """Connected components of ``pairs``, each decided by :func:`resolve_component`."""
    if not len(pairs):
        return
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    docs, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(pairs.shape)
    m = len(docs)
    graph = coo_matrix((np.ones(len(local), np.int8), (local[:, 0], local[:, 1])), shape=(m, m))
    _, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    bounds = np.flatnonzero(np.diff(label[order], prepend=-1, append=-1))
    e_label = label[local[:, 0]]
    e_order = np.argsort(e_label, kind="stable")
    e_bounds = np.searchsorted(e_label[e_order], np.arange(int(label.max()) + 2))
    keys = f.exact
    n_turns = f.n_turns.tolist()
    chars = f.answer_chars.tolist()
    for c in range(len(bounds) - 1):
        ds = docs[order[bounds[c] : bounds[c + 1]]].tolist()
        comp = int(label[order[bounds[c]]])
        members = [MemberInfo(d, d, bytes(keys[d]), n_turns[d], chars[d]) for d in ds]
        es = [
            Edge(a, b, int(k), s)
            for (a, b), k, s in zip(
                pairs[e_order[e_bounds[comp] : e_bounds[comp + 1]]].tolist(),
                kinds[e_order[e_bounds[comp] : e_bounds[comp + 1]]].tolist(),
                sims[e_order[e_bounds[comp] : e_bounds[comp + 1]]].tolist(),
                strict=True,
            )
            if k >= 0
        ]
        for a in resolve_component(members, es, keep):
            if a.status == KEPT:
                continue
            d = a.doc
            plan.status[d] = a.status
            plan.dup_of[d] = a.duplicate_of
            plan.rep[d] = a.rep
            plan.similarity[d] = a.similarity
            plan.rep_similarity[d] = np.nan if a.rep_similarity is None else a.rep_similarity
            plan.how[d] = BY_CONTAINMENT if a.status == CONTAINED else BY_JACCARD


def _first_per_key(inverse: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each key group: the smallest index with ``mask`` set, or -1."""
    m = int(inverse.max()) + 1 if len(inverse) else 0
    out = np.full(m, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    # assign in reverse so the smallest index wins
    out[inverse[idx[::-1]]] = idx[::-1]
    return out


def _containment(f: Features, uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed pairs ``(a, b)``: a's whole non-system turn sequence is a contiguous run
    inside b's (and shorter), with ``n_turns[a] / n_turns[b]``; among ``uniq`` documents."""
    has = np.flatnonzero(uniq & (f.n_turns >= 2) & (f.conv != _ZERO8))
    same: dict[bytes, list[int]] = {}
    for i in has.tolist():
        same.setdefault(bytes(f.conv[i]), []).append(i)
    out: list[tuple[int, int]] = []
    for b, keys in sorted(f.windows.items()):
        if not uniq[b]:
            continue
        found: set[int] = set()
        for k in keys.tolist():
            for a in same.get(k, ()):
                if a != b and a not in found:
                    found.add(a)
                    out.append((a, b))
    if not out:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    arr = np.array(out, dtype=np.int64)
    return arr, f.n_turns[arr[:, 0]] / f.n_turns[arr[:, 1]].astype(np.float64)


def _conflicts(f: Features, is_ref: np.ndarray, status: np.ndarray) -> list[list[int]]:
    """Groups of kept training docs with one prompt and several answers (what is left in
    the output; duplicates already removed do not count)."""
    idx = np.flatnonzero(~is_ref & (status == KEPT))
    if len(idx) < 2:
        return []
    empty = np.array([turn_digest([])], dtype="S16")[0]  # as stored (numpy strips NULs)
    keys = f.prompt[idx]
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    bounds = np.flatnonzero(np.concatenate(([True], sk[1:] != sk[:-1], [True])))
    out: list[list[int]] = []
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if e - s < 2 or sk[s] == empty:
            continue
        members = np.sort(idx[order[s:e]])
        if len({bytes(a) for a in f.answer[members]}) > 1:
            out.append(members.tolist())
    out.sort()
    return out


__all__ = [
    "BY_CONTAINMENT",
    "BY_JACCARD",
    "CONTAINED",
    "CONTAMINATED",
    "EXACT",
    "KEPT",
    "LARGE_CLUSTER_MIN",
    "LARGE_CLUSTER_SHARE",
    "NEAR",
    "STATUS_NAMES",
    "DuplicateIndex",
    "Features",
    "Params",
    "Plan",
    "featurize",
    "is_large_cluster",
    "raw_turns",
]
