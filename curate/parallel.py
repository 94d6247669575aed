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

from curate.io import iter_raw_lines, open_binary

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


class LineBlock:
    """A run of whole lines of a file as one ``bytes`` object, numbered from
    ``first_line``: the cheap unit to hand to a worker process (the main process reads
    and sends blocks; the worker splits them). Iterating yields ``(line_number, raw)``
    exactly as :func:`curate.io.iter_raw_lines` would: ``\\n`` or ``\\r\\n`` removed from
    every terminated line, an unterminated last line of the file kept as it is.

    Example:
        >>> list(LineBlock(7, b'{"a": 1}\\r\\n\\n{"b": 2}'))
        [(7, b'{"a": 1}'), (8, b''), (9, b'{"b": 2}')]
    """

    __slots__ = ("data", "first_line")

    def __init__(self, first_line: int, data: bytes) -> None:
        self.first_line = first_line
        self.data = data

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        data = self.data
        if not data:
            return iter(())
        parts = data.split(b"\n")
        if not parts[-1]:  # the block ends with a newline: no line after it
            parts.pop()
            terminated = len(parts)
        else:
            terminated = len(parts) - 1
        if b"\r" in data:
            parts = [
                p[:-1] if i < terminated and p.endswith(b"\r") else p for i, p in enumerate(parts)
            ]
        return enumerate(parts, self.first_line)


def block_batches(
    path: str | os.PathLike[str], *, block_bytes: int = 1 << 20
) -> Iterator[LineBlock]:
    """A file as :class:`LineBlock` batches of about ``block_bytes`` each, cut after a
    newline (a longer line makes a block of its own). Streams: memory holds one block.
    The main process only counts newlines; splitting and parsing happen in the workers.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.jsonl")
        >>> _ = open(p, "wb").write(b"a\\nb\\nc")
        >>> [list(b) for b in block_batches(p, block_bytes=2)]
        [[(1, b'a')], [(2, b'b')], [(3, b'c')]]
    """
    line = 1
    pending: list[bytes] = []  # the start of a line longer than a block, kept in pieces
    with open_binary(path) as f:
        while True:
            chunk = f.read(block_bytes)
            if not chunk:
                break
            cut = chunk.rfind(b"\n") + 1
            if not cut:
                pending.append(chunk)  # no line end yet: a long line, read on
                continue
            block = b"".join((*pending, chunk[:cut])) if pending else chunk[:cut]
            pending = [chunk[cut:]] if cut < len(chunk) else []
            yield LineBlock(line, block)
            line += block.count(b"\n")
    if pending:
        yield LineBlock(line, b"".join(pending))


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
