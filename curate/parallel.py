"""The shared machinery of every streaming stage: batches of raw lines, and a pool that
maps a pure batch function over them in order with a bounded number in flight.

Each stage (validate, dedup, split...) writes its heavy work as a pure function over one
batch; these helpers run it inline, in a local process pool, or anywhere else that maps a
function over batches (``ray.data.Dataset.map_batches``), with memory bounded by the
number of batches in flight.

Example:
    >>> list(run_ordered(len, [[1, 2], [3]], None, in_flight=2))
    [2, 1]
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from curate.io import iter_raw_lines

T = TypeVar("T")
R = TypeVar("R")


def line_batches(
    path: str | os.PathLike[str], *, max_lines: int = 2000, max_bytes: int = 2 << 20
) -> Iterator[list[tuple[int, bytes]]]:
    """``(line_number, raw_bytes)`` pairs of a file in batches of at most ``max_lines``
    lines or about ``max_bytes`` bytes (a single longer line makes a batch of its own)."""
    batch: list[tuple[int, bytes]] = []
    size = 0
    for line, raw in iter_raw_lines(path):
        batch.append((line, raw))
        size += len(raw)
        if len(batch) >= max_lines or size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def run_ordered(
    fn: Callable[[T], R], tasks: Iterable[T], executor: Executor | None, in_flight: int
) -> Iterator[R]:
    """``map(fn, tasks)`` in order: inline when ``executor`` is ``None``, else in the
    executor with at most ``in_flight`` tasks submitted and not yet consumed."""
    if executor is None:
        for t in tasks:
            yield fn(t)
        return
    pending: deque[Future[R]] = deque()
    for t in tasks:
        pending.append(executor.submit(fn, t))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def fork_pool(workers: int, **kwargs: Any) -> Any:
    """A process pool whose workers start by fork where the platform has it (they then
    inherit loaded encodings and tokenizers instead of loading them again). ``kwargs``
    go to ``ProcessPoolExecutor`` (``initializer``, ``initargs``)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, **kwargs)
