from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.io import iter_raw_lines
from curate.parallel import LineBlock, block_batches, fork_pool, line_batches, run_ordered
from curate.records import InputError


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
    expected = list(iter_raw_lines(p))
    for by_range in (True, False):  # byte ranges read by the worker, or the bytes themselves
        blocks = [
            pickle.loads(pickle.dumps(b))
            for b in block_batches(p, block_bytes=block, by_range=by_range)
        ]
        assert [pair for b in blocks for pair in b] == expected


def test_block_batches_keep_long_lines_whole_and_read_gzip(tmp_path: Path) -> None:
    data = b"a\n" + b"y" * 5000 + b"\r\nz\r"
    p = tmp_path / "x.jsonl.gz"
    p.write_bytes(gzip.compress(data))
    blocks = list(block_batches(p, block_bytes=100))
    assert [b.first_line for b in blocks] == [1, 2, 3]
    assert [pair for b in blocks for pair in b] == [(1, b"a"), (2, b"y" * 5000), (3, b"z\r")]
    assert list(LineBlock(1, b"")) == []


def test_blocks_of_a_plain_file_travel_as_ranges(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(5000)))
    blocks = list(block_batches(p, block_bytes=4096))
    assert len(blocks) > 10
    assert all(len(pickle.dumps(b)) < 200 for b in blocks)  # not the bytes
    assert [n for b in blocks for n, _ in b] == list(range(1, 5001))
    gz = tmp_path / "x.jsonl.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    assert all(len(pickle.dumps(b)) > 1000 for b in block_batches(gz, block_bytes=4096))


def test_a_file_changed_during_the_run_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"".join(b'{"n": %d}\n' % i for i in range(100)))
    first, *rest = block_batches(p, block_bytes=256)
    p.write_bytes(b"{}\n" * 400)  # rewritten after its line ends were counted
    with pytest.raises(InputError, match=r"x\.jsonl: the file changed while it was being read"):
        list(rest[0])
    p.write_bytes(b"{}")  # truncated
    with pytest.raises(InputError, match="changed while it was being read"):
        list(first)


_INIT_SEEN: list[str] = []


def _mark_worker(tag: str) -> None:
    _INIT_SEEN.append(tag)


def _worker_state(_: int) -> tuple[tuple[int, int, int], list[str]]:
    import gc

    return gc.get_threshold(), list(_INIT_SEEN)


def test_fork_pool_workers_collect_less_often_and_run_the_callers_initializer() -> None:
    import gc

    from curate import parallel

    before = gc.get_threshold()
    with fork_pool(2, initializer=_mark_worker, initargs=("started",)) as pool:
        states = list(pool.map(_worker_state, range(4)))
    for threshold, seen in states:
        assert threshold == (parallel.WORKER_GC_THRESHOLD, *before[1:])
        assert seen == ["started"]
    assert gc.get_threshold() == before  # this process keeps its own
