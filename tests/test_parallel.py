from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.io import iter_raw_lines
from curate.parallel import LineBlock, block_batches, fork_pool, line_batches, run_ordered


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


PIECES = [b"a", b"{}", b" ", b"\n", b"\r", b"\r\n", b"\xef\xbb\xbf", b"\xff", b"\n\n"]


@settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.sampled_from([1, 2, 3, 7, 1 << 20]))
def test_block_batches_give_the_lines_iter_raw_lines_gives(
    tmp_path_factory: object, pieces: list[bytes], block: int
) -> None:
    p = tmp_path_factory.mktemp("blocks") / "x.jsonl"  # type: ignore[attr-defined]
    p.write_bytes(b"".join(pieces))
    got = [pair for b in block_batches(p, block_bytes=block) for pair in b]
    assert got == list(iter_raw_lines(p))


def test_block_batches_keep_long_lines_whole_and_read_gzip(tmp_path: Path) -> None:
    data = b"a\n" + b"y" * 5000 + b"\r\nz\r"
    p = tmp_path / "x.jsonl.gz"
    p.write_bytes(gzip.compress(data))
    blocks = list(block_batches(p, block_bytes=100))
    assert [b.first_line for b in blocks] == [1, 2, 3]
    assert [pair for b in blocks for pair in b] == [(1, b"a"), (2, b"y" * 5000), (3, b"z\r")]
    assert list(LineBlock(1, b"")) == []
