"""Length statistics as the trainer sees them: distribution, ``max_length`` suggestions
with what each choice costs, and a packing estimate.

:class:`LengthStats` keeps, per example, its token count and its trainable token ranges
(flat ``int32`` arrays, a few bytes per example), so the cost of any ``max_length`` is
exact: tokens cut, trainable tokens cut, examples left with nothing to learn.

Example:
    >>> s = LengthStats()
    >>> s.add(10, [(4, 10)]); s.add(30, [(10, 30)]); s.add(50, [(5, 20), (40, 50)])
    >>> s.cost(32)["tokens_lost"], s.cost(32)["trainable_lost"]
    (18, 10)
    >>> suggest_max_length(s, shares=(1.0,))[0]["max_length"]
    50
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

DEFAULT_SHARES = (0.95, 0.99, 1.0)


class LengthStats:
    """Token counts and trainable ranges of many examples (append-only)."""

    def __init__(self) -> None:
        self.tokens = array("i")
        self.trainable = array("i")
        self.span_example = array("i")
        self.span_start = array("i")
        self.span_end = array("i")

    def __len__(self) -> int:
        return len(self.tokens)

    def add(self, n_tokens: int, spans: Iterable[tuple[int, int]]) -> None:
        k = len(self.tokens)
        self.tokens.append(n_tokens)
        total = 0
        for s, e in spans:
            self.span_example.append(k)
            self.span_start.append(s)
            self.span_end.append(e)
            total += e - s
        self.trainable.append(total)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.frombuffer(self.tokens, dtype=np.int32).astype(np.int64),
            np.frombuffer(self.trainable, dtype=np.int32).astype(np.int64),
            np.frombuffer(self.span_example, dtype=np.int32),
            np.frombuffer(self.span_start, dtype=np.int32).astype(np.int64),
            np.frombuffer(self.span_end, dtype=np.int32).astype(np.int64),
        )

    def cost(self, max_length: int) -> dict[str, int | float]:
        """What truncating every example to ``max_length`` tokens (keeping the start, as
        TRL, axolotl and LLaMA-Factory do) costs."""
        tokens, trainable, ex, s, e = self.arrays()
        n = len(tokens)
        kept_span = np.clip(np.minimum(e, max_length) - s, 0, None)
        kept_trainable = np.bincount(ex, weights=kept_span, minlength=n).astype(np.int64)
        over = tokens > max_length
        return {
            "max_length": int(max_length),
            "examples_whole": int(n - over.sum()),
            "share_whole": round(float(1 - over.mean()), 4) if n else 1.0,
            "examples_truncated": int(over.sum()),
            "tokens_lost": int(np.clip(tokens - max_length, 0, None).sum()),
            "trainable_lost": int(trainable.sum() - kept_trainable.sum()),
            "examples_left_untrainable": int(((kept_trainable == 0) & (trainable > 0)).sum()),
        }


def distribution(values: Sequence[int] | np.ndarray) -> dict[str, float | int | None]:
    """min, mean, p50, p90, p95, p99, max (numpy's default linear quantiles) and the total.

    Example:
        >>> distribution([1, 2, 3, 4])["p50"]
        2.5
    """
    arr = np.asarray(values, dtype=np.int64)
    if arr.size == 0:
        return dict.fromkeys(("min", "mean", "p50", "p90", "p95", "p99", "max", "total"))
    q = np.quantile(arr, [0.5, 0.9, 0.95, 0.99])
    return {
        "min": int(arr.min()),
        "mean": round(float(arr.mean()), 1),
        "p50": round(float(q[0]), 2),
        "p90": round(float(q[1]), 2),
        "p95": round(float(q[2]), 2),
        "p99": round(float(q[3]), 2),
        "max": int(arr.max()),
        "total": int(arr.sum()),
    }


def length_keeping(tokens: np.ndarray, share: float) -> int:
    """The smallest length that keeps at least ``share`` of the examples whole.

    Example:
        >>> length_keeping(np.array([5, 1, 9, 3]), 0.75)
        5
    """
    if tokens.size == 0:
        return 0
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    k = max(1, math.ceil(share * tokens.size - 1e-9))
    return int(np.partition(tokens, k - 1)[k - 1])


def round_up(n: int, multiple: int = 64) -> int:
    """``n`` rounded up to a multiple (GPU-friendly lengths).

    Example:
        >>> round_up(1000), round_up(1024)
        (1024, 1024)
    """
    return max(multiple, -(-n // multiple) * multiple)


def packing_efficiency(tokens: np.ndarray, max_length: int) -> dict[str, int | float]:
    """Estimate of packing (TRL ``packing=True``, axolotl ``sample_packing``): examples,
    truncated to ``max_length``, are packed best-fit-decreasing into rows of
    ``max_length``. Reports the rows needed and the share of row slots holding real
    tokens, against one padded row per example.

    Example:
        >>> packing_efficiency(np.array([6, 4, 5, 5]), 10)["rows_packed"]
        2
    """
    if tokens.size == 0 or max_length <= 0:
        return {
            "rows_unpacked": 0,
            "rows_packed": 0,
            "packed_efficiency": 0.0,
            "padded_efficiency": 0.0,
        }
    lengths = np.sort(np.minimum(tokens, max_length))[::-1]
    free: list[int] = []  # remaining capacity of open rows, sorted ascending
    rows = 0
    for n in lengths.tolist():
        i = bisect_left(free, n)
        if i < len(free):
            cap = free.pop(i) - n
        else:
            rows += 1
            cap = max_length - n
        if cap > 0:
            insort(free, cap)
    real = int(lengths.sum())
    return {
        "rows_unpacked": int(tokens.size),
        "rows_packed": rows,
        "packed_efficiency": round(real / (rows * max_length), 4),
        "padded_efficiency": round(real / (tokens.size * max_length), 4),
    }


def suggest_max_length(
    stats: LengthStats, *, shares: Sequence[float] = DEFAULT_SHARES
) -> list[dict[str, Any]]:
    """For each share (0.95 = keep 95% of examples whole) the ``max_length`` to use,
    the same rounded up to a multiple of 64, and what truncating at it costs.

    Example:
        >>> s = LengthStats()
        >>> for n in range(1, 101): s.add(n, [(0, n)])
        >>> [r["max_length"] for r in suggest_max_length(s, shares=(0.5, 0.99, 1.0))]
        [50, 99, 100]
    """
    tokens = stats.arrays()[0]
    out: list[dict[str, Any]] = []
    for share in shares:
        L = length_keeping(tokens, share)
        row: dict[str, Any] = {"keep": share, **stats.cost(L), "rounded": round_up(L)}
        row["packing"] = packing_efficiency(tokens, L)
        out.append(row)
    return out
