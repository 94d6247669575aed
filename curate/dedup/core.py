"""The duplicate finder: pure per-batch features, then one corpus-wide solve.

:func:`featurize` is the heavy, pure half (runs in worker processes): for a batch of
records it computes exact keys, prompt and answer keys, containment keys, shingles and
MinHash signatures, all as flat numpy arrays. :class:`DuplicateIndex` (main process)
appends batches and :meth:`DuplicateIndex.solve` decides, deterministically:

1. *contamination*: a training document that exactly or nearly duplicates (or contains,
   or is contained in) a reference (eval) document is removed,
2. *exact*: later copies of a normalised text are removed in favour of the first,
3. *near*: LSH candidates verified by exact Jaccard, plus conversations whose turns are a
   contiguous run of another conversation's turns, are clustered (union-find); each
   cluster keeps its first member.

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

from curate.dedup.lsh import ShingleStore, UnionFind, candidates, lsh_params, verify
from curate.dedup.minhash import MinHasher, shingle_batch
from curate.dedup.text import check_scope, normalize_text, pick_turns, raw_turns, turn_digest

KEPT, EXACT, NEAR, CONTAMINATED = 0, 1, 2, 3
STATUS_NAMES = ("kept", "exact_duplicate", "near_duplicate", "contaminated")
#: how a near pair was found
BY_JACCARD, BY_CONTAINMENT = 0, 1
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
    """

    threshold: float = 0.8
    scope: str = "conversation"
    num_perm: int = 128
    shingle: int = 3
    seed: int = 0
    near: bool = True

    def __post_init__(self) -> None:
        check_scope(self.scope)
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
    answer: np.ndarray  # (n,) S16: assistant turns
    conv: np.ndarray  # (n,) S8: non-system turn sequence (zeros when < 2 turns)
    n_turns: np.ndarray  # (n,) int32: non-system turns
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

    def drop_shingles(self, keep_up_to: int) -> Features:
        """A copy that stores only the shingles of documents with at most ``keep_up_to``
        (their pairs are verified exactly; the others by the signature estimate)."""
        keep = self.stored() & (self.sh_len <= keep_up_to)
        off = np.zeros(len(self.sh_len) + 1, dtype=np.int64)
        np.cumsum(np.where(self.stored(), self.sh_len, 0), out=off[1:])
        parts = [self.sh_flat[off[i] : off[i + 1]] for i in np.flatnonzero(keep).tolist()]
        flat = np.concatenate(parts) if parts else self.sh_flat[:0]
        return Features(self.exact, self.prompt, self.answer, self.conv, self.n_turns,
                        self.windows, self.sig, flat, self.sh_len, keep)  # fmt: skip

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
    windows: dict[int, np.ndarray] = {}
    texts: list[str] = []
    scope = params.scope
    for i, rec in enumerate(records):
        turns = [(role, normalize_text(text)) for role, text in raw_turns(rec)]
        picked = pick_turns(turns, scope)
        exact[i] = turn_digest(picked)
        prompt[i] = turn_digest(pick_turns(turns, "user"))
        answer[i] = turn_digest(pick_turns(turns, "assistant"))
        if scope == "conversation":
            th = [_turn_hash(r, t) for r, t in turns if r not in ("system", "developer")]
            n_turns[i] = len(th)
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
    return Features(exact, prompt, answer, conv, n_turns, windows, sig, sh_flat, sh_len)


def _turn_hash(role: str, text: str) -> bytes:
    data = f"{role}\x1f{text}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8).digest()


@dataclass
class Plan:
    """The decision for every document, in input order (reference documents included).

    ``status[i]`` is KEPT, EXACT, NEAR or CONTAMINATED; ``dup_of[i]`` the document it
    duplicates directly (-1 when kept); ``rep[i]`` its cluster's representative (itself
    when kept; the reference document for a contaminated one); ``similarity[i]`` the
    Jaccard (1.0 for exact, the turn ratio for containment); ``how[i]`` BY_JACCARD or
    BY_CONTAINMENT for near ones. ``conflicts`` lists groups of training documents that
    share a prompt but not the answers, among the kept ones.
    """

    status: np.ndarray
    dup_of: np.ndarray
    rep: np.ndarray
    similarity: np.ndarray
    how: np.ndarray
    is_ref: np.ndarray
    pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    pair_sims: np.ndarray = field(default_factory=lambda: np.zeros(0))
    conflicts: list[list[int]] = field(default_factory=list)

    def clusters(self) -> dict[int, list[int]]:
        """representative -> members (the representative first), for clusters of >= 2
        training documents (contaminated ones are not clusters)."""
        out: dict[int, list[int]] = {}
        for i in np.flatnonzero((self.status == EXACT) | (self.status == NEAR)).tolist():
            out.setdefault(int(self.rep[i]), []).append(i)
        return {r: [r, *m] for r, m in sorted(out.items())}

    def counts(self) -> dict[str, int]:
        train = ~self.is_ref
        return {
            "kept": int(((self.status == KEPT) & train).sum()),
            "removed_exact": int(((self.status == EXACT) & train).sum()),
            "removed_near": int(((self.status == NEAR) & train).sum()),
            "removed_contaminated": int(((self.status == CONTAMINATED) & train).sum()),
        }


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
        signature estimate when a document's shingles were not kept
        (:meth:`Features.drop_shingles`).
        """
        f, is_ref = self._concat()
        n = len(f)
        status = np.zeros(n, dtype=np.int8)
        dup_of = np.full(n, -1, dtype=np.int64)
        rep = np.arange(n, dtype=np.int64)
        sim = np.zeros(n, dtype=np.float64)
        how = np.zeros(n, dtype=np.int8)
        plan = Plan(status, dup_of, rep, sim, how, is_ref)
        if n == 0:
            return plan

        # 1. exact: first occurrence of each key, among references and among training docs
        _, first, inverse = np.unique(f.exact, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        ref_first = _first_per_key(inverse, is_ref)
        train_first = _first_per_key(inverse, ~is_ref)
        train = np.flatnonzero(~is_ref)
        g = inverse[train]
        rf = ref_first[g]
        hit = rf >= 0
        status[train[hit]] = CONTAMINATED
        dup_of[train[hit]] = rf[hit]
        rep[train[hit]] = rf[hit]
        sim[train[hit]] = 1.0
        tf = train_first[g]
        ex = ~hit & (tf != train)
        status[train[ex]] = EXACT
        dup_of[train[ex]] = tf[ex]
        sim[train[ex]] = 1.0
        del first

        # 2. near: candidates among the first copy of every key (plus containment)
        uniq = np.zeros(n, dtype=bool)
        uniq[train[~hit & (tf == train)]] = True
        uniq[ref_first[ref_first >= 0]] = True
        edges: list[tuple[np.ndarray, np.ndarray, int]] = []
        if self.params.near and f.sig.shape[1]:
            bands, rows = lsh_params(self.params.threshold, self.params.num_perm)
            valid = uniq & (f.sh_len > 0)
            cand = candidates(f.sig, bands, rows, valid)
            stored = f.stored()
            store = ShingleStore(f.sh_flat, np.where(stored, f.sh_len, 0))
            pairs, sims = verify(cand, f.sig, store, self.params.threshold, exact=stored)
            plan.pairs, plan.pair_sims = pairs, sims
            edges.append((pairs, sims, BY_JACCARD))
        if f.windows and self.params.near:
            cpairs, csims = _containment(f, uniq)
            edges.append((cpairs, csims, BY_CONTAINMENT))

        if edges:
            all_pairs = np.concatenate([e[0] for e in edges])
            all_sims = np.concatenate([e[1] for e in edges])
            all_how = np.concatenate([np.full(len(e[0]), e[2], np.int8) for e in edges])
            _apply_near(plan, all_pairs, all_sims, all_how)
        # exact copies follow their first copy: into its cluster, or out as contaminated
        ex_idx = np.flatnonzero(status == EXACT)
        first_copy = dup_of[ex_idx]
        leaked = status[first_copy] == CONTAMINATED
        li, lf = ex_idx[leaked], first_copy[leaked]
        status[li] = CONTAMINATED
        dup_of[li] = dup_of[lf]
        sim[li] = sim[lf]
        how[li] = how[lf]
        ex_idx = ex_idx[~leaked]
        rep[ex_idx] = rep[dup_of[ex_idx]]
        rep[li] = dup_of[li]
        plan.conflicts = _conflicts(f, is_ref, status)
        return plan


def _first_per_key(inverse: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each key group: the smallest index with ``mask`` set, or -1."""
    m = int(inverse.max()) + 1 if len(inverse) else 0
    out = np.full(m, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    # assign in reverse so the smallest index wins
    out[inverse[idx[::-1]]] = idx[::-1]
    return out


def _containment(f: Features, uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, b) where a's whole turn sequence is a contiguous run inside b's."""
    has = np.flatnonzero(uniq & (f.n_turns >= 2))
    first: dict[bytes, int] = {}
    for i in has.tolist():
        first.setdefault(bytes(f.conv[i]), i)
    out: list[tuple[int, int]] = []
    sims: list[float] = []
    for b, keys in sorted(f.windows.items()):
        if not uniq[b]:
            continue
        found: set[int] = set()
        for k in keys.tolist():
            a = first.get(k)
            if a is not None and a != b and a not in found:
                found.add(a)
                out.append((min(a, b), max(a, b)))
                sims.append(float(f.n_turns[a]) / float(f.n_turns[b]))
    if not out:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    return np.array(out, dtype=np.int64), np.array(sims)


def _apply_near(plan: Plan, pairs: np.ndarray, sims: np.ndarray, how: np.ndarray) -> None:
    status, is_ref = plan.status, plan.is_ref
    n = len(status)
    # best direct match per document (highest similarity, then lowest partner)
    best_sim = np.full(n, -1.0)
    best_to = np.full(n, -1, dtype=np.int64)
    best_how = np.zeros(n, dtype=np.int8)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -sims)) if len(pairs) else np.zeros(0, int)
    train_pairs: list[tuple[int, int]] = []
    for k in order.tolist():
        i, j = int(pairs[k, 0]), int(pairs[k, 1])
        ri, rj = bool(is_ref[i]), bool(is_ref[j])
        if ri and rj:
            continue
        if ri or rj:  # contamination: the training side goes, whatever else it matches
            t, r = (j, i) if ri else (i, j)
            if status[t] != CONTAMINATED:
                status[t] = CONTAMINATED
                plan.dup_of[t] = r
                plan.rep[t] = r
                plan.similarity[t] = sims[k]
                plan.how[t] = how[k]
            continue
        train_pairs.append((k, i))
    uf = UnionFind(n)
    for k, _ in train_pairs:
        i, j = int(pairs[k, 0]), int(pairs[k, 1])
        if status[i] == CONTAMINATED or status[j] == CONTAMINATED:
            continue
        uf.union(i, j)
        for a, b in ((i, j), (j, i)):
            if sims[k] > best_sim[a]:
                best_sim[a], best_to[a], best_how[a] = sims[k], b, how[k]
    touched = np.unique(pairs) if len(pairs) else np.zeros(0, np.int64)
    for i in touched.tolist():
        if status[i] != KEPT or is_ref[i]:
            continue
        root = uf.find(i)
        if root != i:
            status[i] = NEAR
            plan.rep[i] = root
            plan.dup_of[i] = best_to[i]
            plan.similarity[i] = best_sim[i]
            plan.how[i] = best_how[i]


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
    "CONTAMINATED",
    "EXACT",
    "KEPT",
    "NEAR",
    "STATUS_NAMES",
    "DuplicateIndex",
    "Features",
    "Params",
    "Plan",
    "featurize",
    "raw_turns",
]
