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
_HAS_CJK = re.compile(rf"[{_CJK}]")
_SIMPLE_WORD = re.compile(r"\w+")  # the same words when a text has no CJK character
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
    return _WORD.findall(text) if _HAS_CJK.search(text) else _SIMPLE_WORD.findall(text)


def _word_hashes(ws: list[str]) -> np.ndarray:
    cache = _WORD_CACHE
    get = cache.get
    hs = [get(w) for w in ws]
    for i, h in enumerate(hs):
        if h is None:
            w = ws[i]
            digest = hashlib.blake2b(w.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            hs[i] = cache[w] = int.from_bytes(digest, "little")
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    return np.array(hs, dtype=np.uint64)


def _ngram_hash(w: np.ndarray, n: int, count: int) -> np.ndarray:
    """64-bit hashes of the ``count`` n-grams starting at ``w[0..count-1]``."""
    with np.errstate(over="ignore"):
        h: np.ndarray = w[:count] * _K1
        for k in range(1, n):
            h = (h ^ (h >> np.uint64(29))) * _K2 + w[k : count + k] * _K3
        h ^= h >> np.uint64(33)
        h *= _M
        h ^= h >> np.uint64(33)
    return (h >> np.uint64(32)) ^ (h & _MASK32)


def shingles(text: str, n: int = 3) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word ``n``-grams of ``text`` (``uint32``)."""
    flat, _ = shingle_batch([text], n)
    return flat


def shingle_batch(texts: Sequence[str], n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The shingles of many texts at once: ``(flat, lens)`` where text ``i``'s sorted
    unique ``uint32`` shingles are ``flat[sum(lens[:i]) : sum(lens[:i + 1])]``.

    Example:
        >>> flat, lens = shingle_batch(["a b c d", "", "a b"])
        >>> lens.tolist()
        [2, 0, 1]
    """
    all_words: list[str] = []
    counts = np.empty(len(texts), dtype=np.int64)
    for i, t in enumerate(texts):
        ws = words(t)
        counts[i] = len(ws)
        all_words.extend(ws)
    if not all_words:
        return _EMPTY.copy(), np.zeros(len(texts), dtype=np.int64)
    return ngram_shingles(_word_hashes(all_words), counts, n)


def ngram_shingles(w: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(flat, lens)`` of :func:`shingle_batch` from the word hashes ``w`` of all texts in
    a row and each text's word ``counts``: sorted unique 32-bit hashes of each text's word
    ``n``-grams (a text of fewer than ``n`` words is one shingle).

    Example:
        >>> flat, lens = ngram_shingles(np.arange(5, dtype=np.uint64), np.array([4, 0, 1]), 3)
        >>> lens.tolist()
        [2, 0, 1]
    """
    if not len(w):
        return _EMPTY.copy(), np.zeros(len(counts), dtype=np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    keys: list[np.ndarray] = []
    total = len(w)
    if total >= n:
        h = _ngram_hash(w, n, total - n + 1)
        doc = np.repeat(np.arange(len(counts), dtype=np.uint64), counts)[: total - n + 1]
        ok = np.arange(total - n + 1) + n <= ends[doc.astype(np.int64)]
        keys.append((doc[ok] << np.uint64(32)) | h[ok])
    for i in np.flatnonzero((counts > 0) & (counts < n)).tolist():  # shorter than n words
        hi = _ngram_hash(w[starts[i] : ends[i]], int(counts[i]), 1)
        keys.append((np.uint64(i) << np.uint64(32)) | hi)
    key = np.sort(np.concatenate(keys))
    if len(key) > 1:
        key = key[np.concatenate(([True], key[1:] != key[:-1]))]
    lens = np.bincount((key >> np.uint64(32)).astype(np.int64), minlength=len(counts))
    return (key & _MASK32).astype(np.uint32), lens.astype(np.int64)


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

    def signatures(self, docs: Sequence[np.ndarray]) -> np.ndarray:
        """``(len(docs), num_perm)`` ``uint32`` signatures of shingle arrays; an empty
        document gets all ``0xFFFFFFFF`` (and is never an LSH candidate)."""
        lens = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        flat = np.concatenate(docs) if len(docs) else _EMPTY
        return self.signatures_flat(flat, lens)

    def signatures_flat(
        self, flat: np.ndarray, lens: np.ndarray, chunk: int = 1 << 18
    ) -> np.ndarray:
        """Signatures of documents given as one flat shingle array and their lengths
        (see :func:`shingle_batch`); about ``chunk`` hash values are computed at a time."""
        n = len(lens)
        sig = np.full((n, self.num_perm), 0xFFFFFFFF, dtype=np.uint32)
        nonempty = np.flatnonzero(lens > 0)
        if len(nonempty) == 0:
            return sig
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        x = flat.astype(np.uint64)
        # documents in groups of at most ``per`` shingles, all permutations per group
        per = max(1, chunk // self.num_perm)
        g_start = 0
        while g_start < len(nonempty):
            lo = offsets[nonempty[g_start]]
            g_end = int(np.searchsorted(offsets[nonempty + 1], lo + per, side="right"))
            g_end = max(g_end, g_start + 1)
            idx = nonempty[g_start:g_end]
            hi = offsets[idx[-1] + 1]
            xs = x[lo:hi]
            rel = offsets[idx] - lo
            h = np.multiply(self.a[:, None], xs[None, :])  # wraps mod 2**64
            h += self.b[:, None]
            h >>= np.uint64(32)
            sig[idx] = np.minimum.reduceat(h, rel, axis=1).T
            g_start = g_end
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
