from __future__ import annotations

from pathlib import Path

from curate.parallel import fork_pool, line_batches, run_ordered


def test_line_batches_respect_both_limits(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"".join(b"%d\n" % i for i in range(10)) + b"y" * 100 + b"\n" + b"z\n")
    sizes = [[n for n, _ in b] for b in line_batches(p, max_lines=4, max_bytes=50)]
    assert sizes == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11], [12]]
    assert [raw for b in line_batches(p) for _, raw in b][-2:] == [b"y" * 100, b"z"]


def test_run_ordered_keeps_order_in_a_real_pool() -> None:
    tasks = [list(range(n)) for n in (5, 1, 3, 0, 8, 2)]
    with fork_pool(2) as pool:
        assert list(run_ordered(sum, tasks, pool, in_flight=2)) == [10, 0, 3, 0, 28, 1]
    assert list(run_ordered(sum, tasks, None, in_flight=2)) == [10, 0, 3, 0, 28, 1]
