"""LSH banding over MinHash signatures, candidate verification, clustering.

- :func:`lsh_params` picks ``bands x rows``: since every candidate pair is verified
  afterwards, a missed pair costs more than an extra candidate, so the banding is chosen
  for recall at the threshold (datasketch balances false positives and negatives).
- :func:`candidates` buckets every band of every signature at once (numpy sort, no
  per-document dict) and returns the unique candidate pairs ``i < j``.
- :func:`verify` keeps the pairs whose exact Jaccard (on the shingle sets) reaches the
  threshold; the signature estimate first discards the hopeless ones cheaply.

Which pairs make clusters, and which copy of a cluster is kept, is decided by
:mod:`curate.dedup.core` and :mod:`curate.dedup.resolve`.

Example:
    >>> lsh_params(0.8, 128)
    (18, 7)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from curate.dedup.minhash import jaccard

#: groups (documents sharing one band) up to this size contribute all their pairs;
#: larger ones a star from their first member plus a chain, to stay linear
MAX_GROUP_PAIRS = 128


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, max_miss: float = 0.02) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands * rows <= num_perm``: the most rows per band (the
    fewest false candidates) such that a pair whose Jaccard is exactly ``threshold``
    still becomes a candidate with probability ``>= 1 - max_miss``. Pairs above the
    threshold are missed even less often; false candidates are removed by :func:`verify`.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    best = (num_perm, 1)
    for r in range(1, num_perm + 1):
        b = num_perm // r
        if (1.0 - threshold**r) ** b <= max_miss:
            best = (b, r)
    return best


@lru_cache(maxsize=MAX_GROUP_PAIRS + 1)
def _triu(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(size, k=1)


def _band_keys(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    cols = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
    key = np.full(len(sig), np.uint64(band * 0x9E3779B97F4A7C15 % 2**64), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in range(cols.shape[1]):
            key = (key ^ cols[:, c]) * np.uint64(0x100000001B3)
            key ^= key >> np.uint64(29)
    return key


def candidates(
    sig: np.ndarray, bands: int, rows: int, valid: np.ndarray | None = None
) -> np.ndarray:
    """Unique candidate pairs as an ``(m, 2)`` ``int64`` array, ``i < j``, sorted.

    Args:
        sig: ``(n, num_perm)`` signatures.
        bands, rows: from :func:`lsh_params`.
        valid: boolean mask of documents that take part (default: all non-empty ones).
    """
    n = len(sig)
    if valid is None:
        valid = ~(sig == 0xFFFFFFFF).all(axis=1) if n else np.zeros(0, bool)
    ids = np.flatnonzero(valid)
    if len(ids) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    sub = sig[ids]
    parts: list[np.ndarray] = []
    for band in range(bands):
        keys = _band_keys(sub, band, rows)
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        same = sk[1:] == sk[:-1]
        if not same.any():
            continue
        parts.extend(run_pairs(order, same))
    return unique_pairs(parts, ids, n)


def run_pairs(order: np.ndarray, same: np.ndarray) -> list[np.ndarray]:
    """Candidate pairs (positions in ``order``'s terms) from members sorted by bucket key,
    ``same[i]`` telling that members ``i`` and ``i + 1`` share a key: consecutive members
    (which covers buckets of two), and for bigger buckets all pairs, or past
    :data:`MAX_GROUP_PAIRS` members a star from the first one.

    Example:
        >>> [p.tolist() for p in run_pairs(np.array([4, 7, 9]), np.array([True, True]))]
        [[[4, 7], [7, 9]], [[4, 7], [4, 9], [7, 9]]]
    """
    parts = [np.stack([order[:-1][same], order[1:][same]], axis=1)]
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    sizes = np.diff(np.concatenate((starts, [len(order)])))
    big = sizes > 2
    for s, size in zip(starts[big].tolist(), sizes[big].tolist(), strict=True):
        members = order[s : s + size]
        if size <= MAX_GROUP_PAIRS:
            ii, jj = _triu(size)
            parts.append(np.stack([members[ii], members[jj]], axis=1))
        else:
            parts.append(np.stack([np.full(size - 1, members[0]), members[1:]], axis=1))
    return parts


def unique_pairs(parts: list[np.ndarray], ids: np.ndarray, n: int) -> np.ndarray:
    """The pairs of ``parts`` mapped through ``ids``, as unique sorted ``i < j`` rows."""
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = ids[np.concatenate(parts)]
    pairs.sort(axis=1)
    code = np.unique(pairs[:, 0].astype(np.int64) * n + pairs[:, 1])
    return np.stack([code // n, code % n], axis=1)


def verify(
    pairs: np.ndarray,
    sig: np.ndarray,
    shingle_sets: Sequence[np.ndarray] | None,
    threshold: float,
    exact: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs whose similarity reaches ``threshold`` and their similarities.

    The similarity is the exact Jaccard of the two ``shingle_sets`` (when given, and for
    pairs of documents whose ``exact`` flag is set, default all); pairs whose signature
    estimate is more than 0.15 under the threshold (over 4 standard deviations
    at 128 permutations) are dropped without computing it.
    Otherwise it is the signature estimate (the share of equal MinHash values).
    """
    if len(pairs) == 0:
        return pairs, np.zeros(0)
    est = np.empty(len(pairs))
    step = 1 << 16
    for s in range(0, len(pairs), step):
        p = pairs[s : s + step]
        est[s : s + step] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
    sims = est.copy()
    if shingle_sets is not None:
        both = (
            np.ones(len(pairs), bool) if exact is None else exact[pairs[:, 0]] & exact[pairs[:, 1]]
        )
        todo = np.flatnonzero(both & (est >= threshold - 0.15))
        sims[both] = 0.0
        if isinstance(shingle_sets, ShingleStore):
            sims[todo] = jaccard_many(pairs[todo], shingle_sets.flat, shingle_sets.off)
        else:
            sims[todo] = [
                jaccard(shingle_sets[i], shingle_sets[j]) for i, j in pairs[todo].tolist()
            ]
    keep = sims >= threshold - 1e-12
    return pairs[keep], sims[keep]


class ShingleStore(Sequence[np.ndarray]):
    """Document ``i``'s sorted unique shingles are ``flat[off[i]:off[i + 1]]``."""

    def __init__(self, flat: np.ndarray, lens: np.ndarray) -> None:
        self.flat = flat
        self.off = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=self.off[1:])

    def __len__(self) -> int:
        return len(self.off) - 1

    def __getitem__(self, i: Any) -> Any:
        return self.flat[self.off[i] : self.off[i + 1]]


def _gather(off: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the flat array of every shingle of ``docs``, and their lengths."""
    lens = off[docs + 1] - off[docs]
    total = int(lens.sum())
    starts = np.repeat(off[docs] - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return starts + np.arange(total, dtype=np.int64), lens


def jaccard_many(
    pairs: np.ndarray, flat: np.ndarray, off: np.ndarray, chunk: int = 1 << 22
) -> np.ndarray:
    """Exact Jaccard of many document pairs at once (vectorised: each side's shingles,
    tagged with the pair number, form one sorted array; a binary search of one side in
    the other counts the intersection).

    Example:
        >>> flat = np.array([1, 2, 3, 2, 3, 4, 9], np.uint32)
        >>> off = np.array([0, 3, 6, 7])
        >>> jaccard_many(np.array([[0, 1], [0, 2]]), flat, off).tolist()
        [0.5, 0.0]
    """
    out = np.empty(len(pairs), dtype=np.float64)
    sizes = (off[pairs[:, 0] + 1] - off[pairs[:, 0]]) + (off[pairs[:, 1] + 1] - off[pairs[:, 1]])
    start = 0
    while start < len(pairs):
        stop = start + max(1, int(np.searchsorted(np.cumsum(sizes[start:]), chunk, "right")))
        p = pairs[start:stop]
        ia, la = _gather(off, p[:, 0])
        ib, lb = _gather(off, p[:, 1])
        tag = np.arange(len(p), dtype=np.uint64)
        # both key arrays are sorted: pair-major, shingles sorted within a document
        ka = (np.repeat(tag, la) << np.uint64(32)) | flat[ia].astype(np.uint64)
        kb = (np.repeat(tag, lb) << np.uint64(32)) | flat[ib].astype(np.uint64)
        pos = np.searchsorted(kb, ka)
        found = kb[np.minimum(pos, len(kb) - 1)] == ka if len(kb) else np.zeros(len(ka), bool)
        inter = np.bincount((ka[found] >> np.uint64(32)).astype(np.int64), minlength=len(p))
        union = la + lb - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        start = stop
    return out
