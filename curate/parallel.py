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

from curate.io import (
    _CORRUPT,
    LongLine,
    _is_read_error,
    corrupt_error,
    iter_raw_lines,
    max_line_bytes,
    open_binary,
)
from curate.records import InputError

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

    A block of a plain file can instead name its byte range (:meth:`at`): it then pickles
    as a few numbers and the worker reads the bytes itself (from the page cache: the main
    process has just read them to find the line ends), instead of the main process
    pickling and piping a megabyte per block. The worker checks it got the same number
    of line ends, so a file changed during the run is an error, not wrong line numbers.

    Example:
        >>> list(LineBlock(7, b'{"a": 1}\\r\\n\\n{"b": 2}'))
        [(7, b'{"a": 1}'), (8, b''), (9, b'{"b": 2}')]
    """

    __slots__ = ("_data", "first_line", "length", "n_newlines", "offset", "path")

    def __init__(
        self,
        first_line: int,
        data: bytes | None,
        path: str | None = None,
        offset: int = 0,
        length: int = 0,
        n_newlines: int = 0,
    ) -> None:
        self.first_line = first_line
        self._data = data
        self.path, self.offset, self.length, self.n_newlines = path, offset, length, n_newlines

    @classmethod
    def at(cls, first_line: int, path: str, offset: int, length: int, n_newlines: int) -> LineBlock:
        """The block of ``length`` bytes at ``offset`` in the plain file ``path``, holding
        ``n_newlines`` line ends; read when iterated."""
        return cls(first_line, None, path, offset, length, n_newlines)

    @classmethod
    def long_line(cls, line: int, size: int) -> LineBlock:
        """A block of one line longer than :func:`curate.io.max_line_bytes` (``size``
        bytes, not held): it iterates as ``(line, LongLine(size))``."""
        return cls(line, None, None, 0, size, -1)

    @property
    def data(self) -> bytes:
        if self._data is not None:
            return self._data
        assert self.path is not None
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.length)
        if len(data) != self.length or data.count(b"\n") != self.n_newlines:
            raise InputError(
                f"{self.path}: the file changed while it was being read (lines "
                f"{self.first_line:,} onwards differ); run again on a file nothing writes to."
            )
        return data

    # one plain tuple per block (the default pickle of a slotted object names every slot)
    def __getstate__(self) -> tuple[Any, ...]:
        return (self.first_line, self._data, self.path, self.offset, self.length, self.n_newlines)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (self.first_line, self._data, self.path, self.offset, self.length, self.n_newlines) = state

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        if self.n_newlines == -1:  # see long_line
            return iter(((self.first_line, LongLine(self.length)),))
        data = self.data
        if not data:
            return iter(())
        parts = data.split(b"\n")
        if not parts[-1]:  # the block ends with a newline: no line after it
            parts.pop()
            terminated = len(parts)
        else:
            terminated = len(parts) - 1
        limit = max_line_bytes()
        if len(data) > limit and max(map(len, parts)) > limit:
            parts = [LongLine(len(p)) if len(p) > limit else p for p in parts]
        if b"\r" in data:
            parts = [
                p[:-1] if i < terminated and p.endswith(b"\r") else p for i, p in enumerate(parts)
            ]
        return enumerate(parts, self.first_line)


#: suffixes read through a decompressor (no byte offsets to hand to a worker)
_STREAM_ONLY = (".gz", ".bz2", ".xz", ".zst")


def block_batches(
    path: str | os.PathLike[str], *, block_bytes: int = 1 << 20, by_range: bool = True
) -> Iterator[LineBlock]:
    """A file as :class:`LineBlock` batches of about ``block_bytes`` each, cut after a
    newline (a longer line makes a block of its own). Streams: memory holds one block.
    The main process only counts newlines; splitting and parsing happen in the workers.
    With ``by_range``, a plain (uncompressed, regular) file's blocks carry their byte
    range instead of their bytes (see :meth:`LineBlock.at`).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.jsonl")
        >>> _ = open(p, "wb").write(b"a\\nb\\nc")
        >>> [list(b) for b in block_batches(p, block_bytes=2)]
        [[(1, b'a')], [(2, b'b')], [(3, b'c')]]
    """
    name = os.fspath(path)
    ranged = by_range and not name.lower().endswith(_STREAM_ONLY) and os.path.isfile(name)
    limit = max_line_bytes()
    line = 1
    offset = 0  # of the block being gathered
    pending: list[bytes] = []  # the start of a line longer than a block, kept in pieces
    pending_len = 0  # its length (all a ranged block needs of it)
    skipping = False  # inside a line longer than the limit: read past it, keep nothing
    f = open_binary(path)
    try:
        with f:
            while True:
                chunk = f.read(block_bytes)
                if not chunk:
                    break
                if pending_len:
                    end = chunk.find(b"\n")
                    if end < 0 and skipping:
                        pending_len += len(chunk)
                        continue
                    skipping = skipping or (end >= 0 and pending_len + end > limit)
                if skipping:
                    yield LineBlock.long_line(line, pending_len + end)
                    line += 1
                    offset += pending_len + end + 1
                    pending, pending_len, skipping = [], 0, False
                    chunk = chunk[end + 1 :]
                    if not chunk:
                        continue
                cut = chunk.rfind(b"\n") + 1
                if not cut:  # no line end yet: a long line, read on
                    pending_len += len(chunk)
                    if pending_len > limit:
                        skipping, pending = True, []
                    elif not ranged:
                        pending.append(chunk)
                    continue
                n = chunk.count(b"\n", 0, cut)
                size = pending_len + cut
                if ranged:
                    yield LineBlock.at(line, name, offset, size, n)
                else:
                    yield LineBlock(
                        line, b"".join((*pending, chunk[:cut])) if pending else chunk[:cut]
                    )
                    pending = [chunk[cut:]] if cut < len(chunk) else []
                pending_len = len(chunk) - cut
                line += n
                offset += size
                if pending_len > limit:
                    skipping, pending = True, []
    except _CORRUPT as e:
        if not _is_read_error(e):
            raise
        raise corrupt_error(path, e, f"after line {line - 1:,}") from e
    if skipping:
        yield LineBlock.long_line(line, pending_len)
    elif pending_len:
        if ranged:
            yield LineBlock.at(line, name, offset, pending_len, 0)
        else:
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


#: the workers' first-generation collection threshold (Python's default is 700). A worker
#: keeps per-process caches (token counts, content results) that grow by a few objects
#: per string; at 700 the young collections walked them and the in-flight examples about
#: every 10 examples (with the content checks, ~1 s of worker CPU per 100,000 examples).
#: Garbage without cycles is freed at once either way; cyclic garbage waits a little
#: longer (at most this many container objects). ``CURATE_WORKER_GC`` in the environment
#: sets another value (700 gives Python's default behaviour back).
WORKER_GC_THRESHOLD = 50_000


def _worker_gc_threshold() -> int:
    value = os.environ.get("CURATE_WORKER_GC", "")
    return int(value) if value.isdigit() and int(value) > 0 else WORKER_GC_THRESHOLD


def _start_worker(initializer: Any, initargs: tuple[Any, ...]) -> None:
    """Each pool worker's first step: the collection threshold, then the caller's
    initializer if any."""
    import gc
    import signal

    # Ctrl-C reaches the whole process group: the main process handles it (removes its
    # temporary files, says so); the workers end when their pool is shut down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.set_threshold(_worker_gc_threshold(), *gc.get_threshold()[1:])
    if initializer is not None:
        initializer(*initargs)


def fork_pool(workers: int, **kwargs: Any) -> Any:
    """A process pool whose workers start by fork where the platform has it (they then
    inherit loaded encodings and tokenizers instead of loading them again). ``kwargs``
    go to ``ProcessPoolExecutor`` (``initializer``, ``initargs``)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    init = (kwargs.pop("initializer", None), tuple(kwargs.pop("initargs", ())))
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_start_worker, initargs=init, **kwargs
    )
