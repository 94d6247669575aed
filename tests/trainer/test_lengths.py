"""Length statistics, max_length suggestions and the packing estimate, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from curate.trainer.lengths import (
    LengthStats,
    distribution,
    length_keeping,
    packing_efficiency,
    round_up,
    suggest_max_length,
)


def stats() -> LengthStats:
    s = LengthStats()
    s.add(10, [(4, 10)])  # all kept at 32
    s.add(30, [(10, 30)])
    s.add(50, [(5, 20), (40, 50)])  # 18 tokens over 32: 10 trainable (40-50) lost
    s.add(80, [(60, 80)])  # reply entirely past 32: left untrainable
    return s


def test_cost_of_a_max_length() -> None:
    assert stats().cost(32) == {
        "max_length": 32,
        "examples_whole": 2,
        "share_whole": 0.5,
        "examples_truncated": 2,
        "tokens_lost": 18 + 48,
        "trainable_lost": 10 + 20,
        "examples_left_untrainable": 1,
    }
    assert stats().cost(80)["tokens_lost"] == 0


def test_length_keeping_a_share() -> None:
    tokens = np.array([10, 30, 50, 80])
    assert [length_keeping(tokens, s) for s in (0.25, 0.5, 0.75, 0.76, 1.0)] == [10, 30, 50, 80, 80]
    with pytest.raises(ValueError, match="share must be in"):
        length_keeping(tokens, 0)


def test_suggestions_keep_the_share_whole() -> None:
    rows = suggest_max_length(stats(), shares=(0.5, 1.0))
    assert [(r["keep"], r["max_length"], r["rounded"], r["share_whole"]) for r in rows] == [
        (0.5, 30, 64, 0.5),
        (1.0, 80, 128, 1.0),
    ]
    assert rows[1]["trainable_lost"] == 0 and rows[1]["packing"]["rows_packed"] == 3


def test_packing_best_fit_decreasing() -> None:
    # 10 + 30 + 50 + 80 = 170 tokens in rows of 80: [80], [50, 30], [10] -> 3 rows
    p = packing_efficiency(np.array([10, 30, 50, 80]), 80)
    assert p == {
        "rows_unpacked": 4,
        "rows_packed": 3,
        "packed_efficiency": round(170 / 240, 4),
        "padded_efficiency": round(170 / 320, 4),
    }
    # examples longer than the row are truncated first
    assert packing_efficiency(np.array([100, 100]), 50)["packed_efficiency"] == 1.0
    assert packing_efficiency(np.array([], dtype=np.int64), 50)["rows_packed"] == 0


def test_distribution_and_rounding() -> None:
    assert distribution([1, 2, 3, 4, 100]) == {
        "min": 1,
        "mean": 22.0,
        "p50": 3.0,
        "p90": 61.6,
        "p95": 80.8,
        "p99": 96.16,
        "max": 100,
        "total": 110,
    }
    assert distribution([])["max"] is None
    assert (round_up(1), round_up(64), round_up(65)) == (64, 64, 128)
