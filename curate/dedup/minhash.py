"""Shingles and vectorised MinHash signatures.

A document's shingles are its word n-grams (default 3; a text shorter than ``n`` words is
one shingle), each hashed to 32 bits. Words are ``\\w`` runs; CJK, kana and Hangul
characters are one word each (those scripts put no spaces between words).

Signatures use the multiply-shift universal family ``h_k(x) = ((a_k * x + b_k) mod 2**64)
>> 32`` over ``uint64`` arrays, one row per permutation, for many documents at a time
(all shingles of a batch concatenated, ``np.minimum.reduceat`` per document). The
permutation parameters come from ``numpy.random.default_rng(seed)``: same seed, same
signatures, on any machine.

Example:
    >>> s = shingles("the quick brown fox jumps")
    >>> len(s)
    3
    >>> mh = MinHasher(num_perm=64, seed=0)
    >>> sig = mh.signatures([s, shingles("the quick brown fox leaps")])
    >>> sig.shape
    (2, 64)
    >>> 0.2 < float((sig[0] == sig[1]).mean()) < 0.9   # true Jaccard is 2/4
    True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+")
_MASK32 = np.uint64(0xFFFFFFFF)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0x165667B19E3779F9)
_M = np.uint64(0xFF51AFD7ED558CCD)
_EMPTY = np.zeros(0, dtype=np.uint32)
_WORD_CACHE: dict[str, int] = {}
_CACHE_MAX = 2_000_000


def words(text: str) -> list[str]:
    """The words of an (already normalised) text."""
    return _WORD.findall(text)


def _word_hashes(ws: list[str]) -> np.ndarray:
    cache = _WORD_CACHE
    out = np.empty(len(ws), dtype=np.uint64)
    for i, w in enumerate(ws):
        h = cache.get(w)
        if h is None:
            digest = hashlib.blake2b(w.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[w] = h
        out[i] = h
    return out


def shingles(text: str, n: int = 3) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word ``n``-grams of ``text`` (``uint32``)."""
    ws = words(text)
    if not ws:
        return _EMPTY
    w = _word_hashes(ws)
    if len(w) < n:
        n = len(w)
    with np.errstate(over="ignore"):
        h = w[: len(w) - n + 1] * _K1
        for k in range(1, n):
            h = (h ^ (h >> np.uint64(29))) * _K2 + w[k : len(w) - n + 1 + k] * _K3
        h ^= h >> np.uint64(33)
        h *= _M
        h ^= h >> np.uint64(33)
    return np.unique(((h >> np.uint64(32)) ^ (h & _MASK32)).astype(np.uint32))


class MinHasher:
    """``num_perm`` hash functions, fixed by ``seed``.

    Args:
        num_perm: signature length (more: a closer Jaccard estimate, slower).
        seed: fixes the hash functions.
    """

    def __init__(self, num_perm: int = 128, seed: int = 0) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {num_perm}")
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.seed = seed
        odd = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
        self.a = odd * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)

    def signatures(self, docs: Sequence[np.ndarray], chunk: int = 1 << 16) -> np.ndarray:
        """``(len(docs), num_perm)`` ``uint32`` signatures; an empty document gets all
        ``0xFFFFFFFF`` (and is never a candidate: see :func:`curate.dedup.lsh.candidates`)."""
        n = len(docs)
        sig = np.full((n, self.num_perm), 0xFFFFFFFF, dtype=np.uint32)
        nonempty = [i for i, d in enumerate(docs) if len(d)]
        # process documents in groups of about ``chunk`` shingles
        start = 0
        while start < len(nonempty):
            total = 0
            stop = start
            while stop < len(nonempty):
                size = len(docs[nonempty[stop]])
                if total and total + size > chunk:
                    break
                total += size
                stop += 1
            idx = nonempty[start:stop]
            x = np.concatenate([docs[i] for i in idx]).astype(np.uint64)
            lens = np.fromiter((len(docs[i]) for i in idx), dtype=np.int64, count=len(idx))
            offsets = np.zeros(len(idx), dtype=np.int64)
            np.cumsum(lens[:-1], out=offsets[1:])
            out = np.empty((len(idx), self.num_perm), dtype=np.uint32)
            step = max(1, min(self.num_perm, (1 << 22) // max(1, len(x))))
            with np.errstate(over="ignore"):
                for p in range(0, self.num_perm, step):
                    a = self.a[p : p + step, None]
                    b = self.b[p : p + step, None]
                    h = ((a * x[None, :] + b) >> np.uint64(32)).astype(np.uint32)
                    out[:, p : p + step] = np.minimum.reduceat(h, offsets, axis=1).T
            sig[idx] = out
            start = stop
        return sig


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle arrays (1.0 for two empties).

    Example:
        >>> jaccard(np.array([1, 2, 3], np.uint32), np.array([2, 3, 4], np.uint32))
        0.5
    """
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
