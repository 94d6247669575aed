"""Near-duplicate *grouping* in bounded memory (what ``curate split`` keeps together).

``curate dedup`` removes documents, so it verifies every LSH candidate pair by the exact
Jaccard of the stored shingle sets (:meth:`curate.dedup.DuplicateIndex.solve`); those
shingles grow with every document's length. Grouping for a split only has to keep
near-duplicates on one side, where a slightly looser grouping merely makes a group
bigger (never a leak). So this module keeps a fixed-size sketch per document and never
keeps shingles:

- :func:`sketch` (pure, in worker processes) turns a batch of normalised turn lists into
  a :class:`Sketch`: the low ``bits`` bits of each of the ``num_perm`` MinHash values
  (b-bit minwise hashing, Li and König 2010: 128 bytes a document at 8 bits instead of
  512), and the keys that find a conversation contained in another one (as
  :mod:`curate.dedup.core` does).
- :class:`NearGrouper` collects sketches and :meth:`NearGrouper.pairs` returns the linked
  pairs: LSH banding (the same bands as ``curate dedup``), then each candidate pair's
  Jaccard *estimated* from the signatures (corrected for b-bit collisions) must reach
  ``threshold - margin``. The margin (default :data:`MARGIN`, 2.5 standard deviations of
  the estimate at the threshold: 0.088 at 0.8 and 128 permutations) makes a true pair at
  the threshold fail the estimate with probability under 1%, at the price of also
  linking some pairs a little under the threshold.

The same band collisions as 32-bit signatures are found (equal 32-bit values have equal
low bits), so every candidate ``curate dedup`` considers is considered here too.

Example:
    >>> turns = [[("user", "tell me a story about a cat"), ("assistant", "once upon a time")],
    ...          [("user", "tell me a story about a cat"), ("assistant", "once upon a time!")],
    ...          [("user", "what is two plus two"), ("assistant", "four")]]
    >>> g = NearGrouper(Params())
    >>> g.add(sketch(turns, g.params))
    >>> g.pairs().tolist()
    [[0, 1]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curate.dedup.core import MAX_WINDOW_TURNS, Params, _hasher, _seq_key, _turn_hash
from curate.dedup.lsh import (
    jaccard_many,
    lsh_params,
    run_pairs,
    unique_pairs,
)
from curate.dedup.minhash import ngram_shingles, words

#: bits kept of each MinHash value (8, 16 or 32)
BITS = 8
#: how far under the threshold the estimated Jaccard may be, in standard deviations of
#: the estimate of a pair exactly at the threshold
MARGIN_SD = 2.5
#: candidates whose estimate is this far under the threshold are dropped unchecked (as
#: :func:`curate.dedup.lsh.verify` drops them: over 4 standard deviations at 128
#: permutations)
EXACT_BELOW = 0.15
#: shingles held at once for exact verification (4 bytes each: 128 MB)
EXACT_BUDGET = 32 << 20
_DTYPES = {8: np.uint8, 16: np.uint16, 32: np.uint32}
#: ``docs (sorted int64) -> (flat, lens)``: those documents' shingles, as
#: :func:`shingle_hashes` returns them
ShingleSource = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
_EMPTY_ROLES = ("system", "developer")


def margin(threshold: float, num_perm: int, sd: float = MARGIN_SD) -> float:
    """How far under ``threshold`` an estimated Jaccard still links a pair.

    Example:
        >>> round(margin(0.8, 128), 3)
        0.088
    """
    return sd * math.sqrt(threshold * (1.0 - threshold) / num_perm)


@dataclass(slots=True)
class Sketch:
    """Fixed-size features of ``n`` documents (plus containment windows).

    ``sig``: ``(n, num_perm)`` low bits of the MinHash values; ``n_shingles``: the
    size of each document's shingle set (0: nothing to compare);
    ``conv``: key of the non-system turn sequence (0 when fewer than 2 turns);
    ``win_doc`` / ``win_key``: for conversations of 3 to 64 non-system turns, every inner
    contiguous run of at least 2 turns (the document index and the run's key).
    """

    sig: np.ndarray
    n_shingles: np.ndarray
    conv: np.ndarray
    win_doc: np.ndarray
    win_key: np.ndarray

    def __len__(self) -> int:
        return len(self.sig)


_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz":
    _WORD_BYTE[_c] = True
_WORD_BYTE[0x80:] = True  # inside the words of a non-ASCII text (see word_hashes)
_P = 0x100000001B3
_PINV = pow(_P, -1, 2**64)


_POWERS: dict[int, np.ndarray] = {}
_POWERS_CACHED = 1 << 22  # 32 MB a table: batches of up to 4 MB of text


def _powers(base: int, n: int) -> np.ndarray:
    """``base ** k mod 2**64`` for ``k < n`` (cached up to :data:`_POWERS_CACHED`)."""
    have = _POWERS.get(base)
    if have is not None and len(have) >= n:
        return have[:n]
    size = n if n > _POWERS_CACHED else min(_POWERS_CACHED, max(n, 1 << 16) * 2)
    out = np.full(size, base, dtype=np.uint64)
    out[0] = 1
    np.cumprod(out, out=out)  # wraps mod 2**64
    if size <= _POWERS_CACHED:
        _POWERS[base] = out
    return out[:n]


def word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The words of many normalised texts, hashed, without a Python call per word:
    ``(hashes, counts)``, text ``i``'s word hashes being ``hashes[sum(counts[:i]):]``.

    The words are :func:`curate.dedup.minhash.words` (``\\w`` runs; CJK, kana and Hangul
    characters one word each): an ASCII text is cut into runs of ``[0-9A-Za-z_]`` bytes
    with numpy, other texts go through the regular expression and are re-joined with
    spaces. A word's hash is a polynomial hash of its UTF-8 bytes modulo ``2**64``
    (computed for all words at once from one prefix sum), then mixed; it depends on the
    word only, so the Jaccard of two texts' shingle sets is the same as with
    :func:`curate.dedup.minhash.shingle_batch`'s hashes (up to hash collisions).

    Example:
        >>> h, counts = word_hashes(["a bc a", "", "été bc"])
        >>> counts.tolist(), bool(h[0] == h[2]), bool(h[1] == h[4]), bool(h[0] == h[1])
        ([3, 0, 2], True, True, False)
    """
    n = len(texts)
    prepared = [t if t.isascii() else " ".join(words(t)) for t in texts]
    data = "\n".join(prepared).encode("utf-8", "surrogatepass")
    counts = np.zeros(n, dtype=np.int64)
    if not data:
        return np.zeros(0, dtype=np.uint64), counts
    b = np.frombuffer(data, dtype=np.uint8)
    edge = np.diff(_WORD_BYTE[b].astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edge == 1)
    ends = np.flatnonzero(edge == -1)
    if not len(starts):
        return np.zeros(0, dtype=np.uint64), counts
    x = b.astype(np.uint64) + np.uint64(1)
    x *= _powers(_P, len(b))
    prefix = np.zeros(len(b) + 1, dtype=np.uint64)
    np.cumsum(x, out=prefix[1:])
    with np.errstate(over="ignore"):
        h = (prefix[ends] - prefix[starts]) * _powers(_PINV, len(b))[starts]
        h ^= (ends - starts).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    lens = np.fromiter(
        (len(t) if t.isascii() else len(t.encode("utf-8", "surrogatepass")) for t in prepared),
        dtype=np.int64,
        count=n,
    )
    doc_start = np.cumsum(lens + 1) - (lens + 1)
    doc = np.searchsorted(doc_start, starts, side="right") - 1
    counts[:] = np.bincount(doc, minlength=n)
    return h, counts


def shingle_hashes(texts: Sequence[str], n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``(flat, lens)`` like :func:`curate.dedup.minhash.shingle_batch` (sorted unique
    32-bit hashes of each text's word ``n``-grams; a text of fewer than ``n`` words is one
    shingle), from :func:`word_hashes`.

    Example:
        >>> flat, lens = shingle_hashes(["a b c d", "", "a b"])
        >>> lens.tolist()
        [2, 0, 1]
    """
    w, counts = word_hashes(texts)
    return ngram_shingles(w, counts, n)


def signatures(
    flat: np.ndarray, lens: np.ndarray, params: Params, bits: int = BITS, chunk: int = 1 << 20
) -> np.ndarray:
    """The low ``bits`` bits of :meth:`curate.dedup.minhash.MinHasher.signatures_flat`'s
    values (same hash functions), ``(n, num_perm)``; an empty document gets all ones.
    Faster: the minimum is taken over the 64-bit products (``min(h) >> 32 ==
    min(h >> 32)``), about ``chunk`` values at a time.

    Example:
        >>> flat, lens = shingle_hashes(["a b c d", ""])
        >>> full = _hasher(8, 0).signatures_flat(flat, lens)
        >>> bool((signatures(flat, lens, Params(num_perm=8)) == full.astype(np.uint8)).all())
        True
    """
    hasher = _hasher(params.num_perm, params.seed)
    n = len(lens)
    dtype = _DTYPES[bits]
    sig = np.full((n, params.num_perm), np.iinfo(dtype).max, dtype=dtype)
    nonempty = np.flatnonzero(lens > 0)
    if not len(nonempty):
        return sig
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=off[1:])
    x = flat.astype(np.uint64)
    a, b = hasher.a[:, None], hasher.b[:, None]
    per = max(1, chunk // params.num_perm)
    g = 0
    while g < len(nonempty):
        lo = off[nonempty[g]]
        end = max(int(np.searchsorted(off[nonempty + 1], lo + per, side="right")), g + 1)
        idx = nonempty[g:end]
        h = a * x[lo : off[idx[-1] + 1]][None, :]  # wraps mod 2**64
        h += b
        low = np.minimum.reduceat(h, off[idx] - lo, axis=1) >> np.uint64(32)
        sig[idx] = low.astype(dtype).T
        g = end
    return sig


def _u64(keys: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(keys), dtype=np.uint64).copy() if keys else np.zeros(0, np.uint64)


def sketch(turns: Sequence[Sequence[tuple[str, str]]], params: Params, bits: int = BITS) -> Sketch:
    """Pure: the sketches of documents given as normalised ``(role, text)`` turns (the
    ``conversation`` scope of :func:`curate.dedup.text.scope_turns`: the same text
    ``curate dedup`` shingles)."""
    texts = ["\n".join(t for _, t in doc) for doc in turns]
    sh_flat, sh_len = shingle_hashes(texts, params.shingle)
    sig = signatures(sh_flat, sh_len, params, bits)
    conv: list[bytes] = []
    win_doc: list[int] = []
    win_key: list[bytes] = []
    zero = b"\0" * 8
    for i, doc in enumerate(turns):
        th = [_turn_hash(r, t) for r, t in doc if r not in _EMPTY_ROLES]
        t = len(th)
        conv.append(_seq_key(th) if t >= 2 else zero)
        if 3 <= t <= MAX_WINDOW_TURNS:
            for a in range(t):
                for b in range(a + 2, t + 1):
                    if b - a < t:
                        win_doc.append(i)
                        win_key.append(_seq_key(th[a:b]))
    return Sketch(
        sig, sh_len.astype(np.int32), _u64(conv), np.array(win_doc, dtype=np.int64), _u64(win_key)
    )


class NearGrouper:
    """Collects :class:`Sketch` batches in input order; :meth:`pairs` links them.

    Memory per document: ``num_perm * bits / 8`` bytes of signature plus 9 bytes (and
    8 bytes per containment window of a multi-turn conversation).
    """

    def __init__(self, params: Params | None = None, bits: int = BITS) -> None:
        self.params = params or Params()
        self.bits = bits
        self._parts: list[Sketch] = []
        self._sig: np.ndarray | None = None
        self._joined: Sketch | None = None
        self._no_sig = np.zeros((0, self.params.num_perm), dtype=_DTYPES[bits])
        self.n = 0
        self.stats: dict[str, int] = {}

    def add(self, sk: Sketch) -> None:
        """Append a batch. Signatures go straight into one growing array (doubling its
        capacity: pages are only resident once written), so the many small batch arrays
        are freed at once and never held twice."""
        k = len(sk)
        if self._sig is None or self.n + k > len(self._sig):
            cap = max(1 << 14, 2 * (self.n + k))
            grown = np.empty((cap, self.params.num_perm), dtype=_DTYPES[self.bits])
            if self._sig is not None:
                grown[: self.n] = self._sig[: self.n]
            self._sig = grown
        self._sig[self.n : self.n + k] = sk.sig
        # the batch's own signature array is not kept (a view would keep it alive)
        self._parts.append(Sketch(self._no_sig, sk.n_shingles, sk.conv, sk.win_doc + self.n,
                                  sk.win_key))  # fmt: skip
        self.n += k

    def _join(self) -> Sketch:
        """All batches as one :class:`Sketch` (the signatures are already one array)."""
        if self._joined is None or self._parts:
            parts = ([self._joined] if self._joined is not None else []) + self._parts
            self._parts = []

            def cat(name: str, dtype: Any) -> np.ndarray:
                arrs = [getattr(p, name) for p in parts]
                return np.concatenate(arrs) if arrs else np.zeros(0, dtype=dtype)

            sig = self._sig[: self.n] if self._sig is not None else None
            if sig is None:
                sig = np.zeros((0, self.params.num_perm), dtype=_DTYPES[self.bits])
            self._joined = Sketch(sig, cat("n_shingles", np.int32), cat("conv", np.uint64),
                                  cat("win_doc", np.int64), cat("win_key", np.uint64))  # fmt: skip
        self._joined.sig = self._sig[: self.n] if self._sig is not None else self._joined.sig
        return self._joined

    def release(self) -> None:
        """Free the sketches (after the last :meth:`pairs`)."""
        self._sig = None
        self._joined = None
        self._parts = []
        self.n = 0

    def estimate(self, sig: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Estimated Jaccard of each pair: the share of equal signature values, corrected
        for the chance ``2**-bits`` that two different minima share their low bits."""
        est = np.empty(len(pairs))
        step = 1 << 15
        for s in range(0, len(pairs), step):
            p = pairs[s : s + step]
            est[s : s + step] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
        if self.bits < 32:
            c = 2.0**-self.bits
            est = (est - c) / (1.0 - c)
        return est

    def pairs(
        self,
        valid: np.ndarray | None = None,
        *,
        sd: float = MARGIN_SD,
        shingles: ShingleSource | None = None,
        budget: int = EXACT_BUDGET,
    ) -> np.ndarray:
        """Linked pairs ``(i, j)``, ``i < j``, sorted, as an ``(m, 2)`` ``int64`` array:
        LSH candidates that pass :meth:`verify`, and conversations whose turns are a
        contiguous run of another's. Only documents with ``valid`` set take part
        (default: all; pass the first copy of each exact duplicate, the others follow it
        through their exact key)."""
        sk = self._join()
        n = len(sk)
        if valid is None:
            valid = np.ones(n, dtype=bool)
        out: list[np.ndarray] = []
        p = self.params
        cand = candidates(sk.sig, *lsh_params(p.threshold, p.num_perm), valid & (sk.n_shingles > 0))
        if len(cand):
            out.append(cand[self.verify(cand, sd=sd, shingles=shingles, budget=budget)])
        out.append(_contained(sk, valid))
        both = np.concatenate(out)
        if not len(both):
            return np.zeros((0, 2), dtype=np.int64)
        code = np.unique(both[:, 0] * n + both[:, 1])
        return np.stack([code // n, code % n], axis=1)

    def verify(
        self,
        pairs: np.ndarray,
        *,
        sd: float = MARGIN_SD,
        shingles: ShingleSource | None = None,
        budget: int = EXACT_BUDGET,
    ) -> np.ndarray:
        """Which candidate ``pairs`` are linked (a boolean mask).

        With the estimate ``e`` and ``m = margin(threshold, num_perm, sd)``: ``e >=
        threshold + m`` links. With a ``shingles`` source, a pair with ``threshold -``
        :data:`EXACT_BELOW` ``<= e < threshold + m`` is decided by the exact Jaccard of
        the two shingle sets, as ``curate dedup`` verifies its candidates (it drops the
        same ``e < threshold - EXACT_BELOW`` ones unchecked), for as many pairs as fit in
        ``budget`` shingles held at once, closest to the threshold first. The pairs left
        (no source, or over the budget) link when ``e >= threshold - m``.
        ``self.stats`` counts the pairs decided each way.
        """
        sk = self._join()
        t = self.params.threshold
        m = margin(t, self.params.num_perm, sd)
        est = self.estimate(sk.sig, pairs)
        link = est >= t - m - 1e-12
        sure = est >= t + m - 1e-12
        low = t - max(m, EXACT_BELOW) if shingles is not None else t - m
        middle = np.flatnonzero(~sure & (est >= low - 1e-12))
        n_exact = 0
        if shingles is not None and len(middle):
            middle = middle[np.argsort(np.abs(est[middle] - t), kind="stable")]
            docs_first: dict[int, None] = {}
            used = 0
            take = 0
            for i, j in pairs[middle].tolist():
                extra = sum(int(sk.n_shingles[d]) for d in (i, j) if d not in docs_first)
                if used + extra > budget:
                    break
                used += extra
                docs_first.setdefault(i)
                docs_first.setdefault(j)
                take += 1
            chosen = middle[:take]
            if take:
                docs = np.array(sorted(docs_first), dtype=np.int64)
                flat, lens = shingles(docs)
                off = np.zeros(len(docs) + 1, dtype=np.int64)
                np.cumsum(lens, out=off[1:])
                local = np.searchsorted(docs, pairs[chosen])
                sims = jaccard_many(local, flat, off)
                link[chosen] = sims >= t - 1e-12
                n_exact = take
        self.stats = {
            "candidates": len(pairs),
            "exact_jaccard": n_exact,
            "estimate": len(pairs) - n_exact,
            "linked": int(link.sum()),
        }
        return link


def _contained(sk: Sketch, valid: np.ndarray) -> np.ndarray:
    """Pairs (a, b): a's whole non-system turn sequence is an inner run of b's turns
    (a is linked to the first valid document with that sequence, as ``curate dedup``)."""
    if not len(sk.win_key):
        return np.zeros((0, 2), dtype=np.int64)
    has = np.flatnonzero(valid & (sk.conv != 0))
    keys, first = np.unique(sk.conv[has], return_index=True)
    first = has[first]
    ok = valid[sk.win_doc]
    wk, wd = sk.win_key[ok], sk.win_doc[ok]
    pos = np.searchsorted(keys, wk)
    pos = np.minimum(pos, max(len(keys) - 1, 0))
    hit = (keys[pos] == wk) if len(keys) else np.zeros(len(wk), bool)
    a, b = first[pos[hit]], wd[hit]
    a, b = a[a != b], b[a != b]
    return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1).astype(np.int64)


def _band_keys(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    cols = sig[:, band * rows : (band + 1) * rows]
    width = cols.dtype.itemsize * rows
    if width <= 8:  # the band's bytes are the key (exact): one strided copy
        buf = np.zeros((len(sig), 8), dtype=np.uint8)
        buf[:, :width] = np.ascontiguousarray(cols).view(np.uint8).reshape(len(sig), width)
        return buf.view(np.uint64).ravel()
    key = np.full(len(sig), np.uint64(band * 0x9E3779B97F4A7C15 % 2**64), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in range(rows):
            key = (key ^ cols[:, c].astype(np.uint64)) * np.uint64(0x100000001B3)
            key ^= key >> np.uint64(29)
    return key


def candidates(sig: np.ndarray, bands: int, rows: int, valid: np.ndarray) -> np.ndarray:
    """Unique pairs ``i < j`` of ``valid`` documents equal on all ``rows`` values of at
    least one band (as :func:`curate.dedup.lsh.candidates`: all pairs of a bucket of up to
    :data:`~curate.dedup.lsh.MAX_GROUP_PAIRS` documents, else a chain and a star)."""
    n = len(sig)
    ids = np.flatnonzero(valid)
    if len(ids) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    parts: list[np.ndarray] = []
    shift = np.uint64(max(1, (len(ids) - 1).bit_length()))
    mask = (np.uint64(1) << shift) - np.uint64(1)
    for band in range(bands):
        keys = _band_keys(sig, band, rows)
        if len(ids) < n:
            keys = keys[ids]
        # one sort of (hash of the key, position) packed in 64 bits: positions come out
        # grouped by key, ascending; two keys sharing the hash's high bits (rare) only
        # make an extra candidate, which verification then drops
        with np.errstate(over="ignore"):
            h = (keys ^ (keys >> np.uint64(31))) * np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(29)
        packed = np.sort((h >> shift) << shift | np.arange(len(ids), dtype=np.uint64))
        sk = packed >> shift
        order = (packed & mask).astype(np.int64)
        parts.extend(run_pairs(order, sk[1:] == sk[:-1]))
    return unique_pairs(parts, ids, n)


__all__ = ["BITS", "MARGIN_SD", "NearGrouper", "Sketch", "candidates", "margin", "sketch"]
