"""The Ray engine: the stages' pure batch functions in Ray Data ``map_batches``, and their
cross-example work as Ray Data groupings (see ``docs/scale.md``).

- :func:`session`: join a cluster (``address``) or start a local Ray instance for the run.
- :func:`ordered_map`: a stage's batch function over its batches in ``map_batches``
  tasks (one batch per task), results back in input order; what validate uses.
- :func:`cogroup`: rows of several datasets grouped by one key (a union, then
  ``groupby(key).map_groups``): the engine's only join, on the sort-based shuffle.
- :func:`connected_components`: alternating large-star / small-star rounds (Kiveris et
  al., "Connected Components in MapReduce and Beyond", 2014) over an edge dataset until
  it is a forest of stars; each node's label is the smallest node of its component. Only
  edges travel; the driver holds two numbers per round.

Ray is imported here only, when a command runs with ``--engine ray``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from curate.records import CurateError

#: node ids of keys (exact keys, prompts) sit above every example position
KEY_BIT = 1 << 62
_KEY_MASK = KEY_BIT - 1
#: ``CURATE_RAY_RUNTIME_ENV``: a JSON runtime_env for ``ray.init`` when joining a cluster
#: whose workers lack curate (for example ``{"pip": ["curate[ray]"]}``)
RUNTIME_ENV_VAR = "CURATE_RAY_RUNTIME_ENV"


# -- session ------------------------------------------------------------------------------


@contextlib.contextmanager
def session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray for one run: an already initialised Ray is used as it is; ``address`` joins a
    running cluster; otherwise a local instance is started (and stopped at the end).
    Ray Data is set to keep input order, pick its shuffle (:func:`_shuffle_strategy`) and print no
    progress bars while the run lasts."""
    import logging

    import ray
    import ray.data as rd

    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        env = os.environ.get(RUNTIME_ENV_VAR)
        if env:
            try:
                kwargs["runtime_env"] = json.loads(env)
            except json.JSONDecodeError as e:
                raise CurateError(f"{RUNTIME_ENV_VAR} is not JSON: {e}") from e
        # read by Ray when it starts this process's worker (and the local instance's)
        lineage = None if LINEAGE_VAR in os.environ else str(LINEAGE_BYTES)
        if lineage is not None:
            os.environ[LINEAGE_VAR] = lineage
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:
                # "local": a new instance even when a cluster runs on this machine
                ray.init(address="local", num_cpus=num_cpus or os.cpu_count(),
                         include_dashboard=False, **kwargs)  # fmt: skip
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise CurateError(
                f"cannot start or join {where}: {e}. Check --ray-address / RAY_ADDRESS "
                "(ray status shows a running cluster's address)."
            ) from e
        finally:
            if lineage is not None:
                os.environ.pop(LINEAGE_VAR, None)
        started = True
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # its one note there: that progress bars are off (curate turns them off)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    ctx = rd.DataContext.get_current()
    saved = (ctx.enable_progress_bars, ctx.shuffle_strategy, ctx.execution_options.preserve_order,
             ctx.print_on_execution_start)  # fmt: skip
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.shuffle_strategy = _shuffle_strategy(ray, rd)
    ctx.execution_options.preserve_order = True
    try:
        yield ray
    finally:
        (ctx.enable_progress_bars, ctx.shuffle_strategy, ctx.execution_options.preserve_order,
         ctx.print_on_execution_start) = saved  # fmt: skip
        if started:
            ray.shutdown()


#: Ray keeps the lineage of every object the driver owns (the tasks that made it, to
#: rebuild it if a node is lost), up to ``max_lineage_bytes``: 1 GB by default. A dedup's
#: groupings leave ``partitions x partitions`` shuffle pieces of lineage each, and the
#: partitions grow with the data, so the driver grew by about 85 MiB per million examples
#: over the joins (2,358 references tracked after a 1M dedup; 644 without lineage). The
#: driver caps it (``RAY_max_lineage_bytes`` in the environment overrides): the oldest
#: lineage goes first, so only a lost node's objects from early steps cannot be rebuilt.
LINEAGE_VAR = "RAY_max_lineage_bytes"
LINEAGE_BYTES = 64 << 20

#: ``CURATE_RAY_SHUFFLE``: ``sort`` (the default) or ``hash``
SHUFFLE_VAR = "CURATE_RAY_SHUFFLE"


def _shuffle_strategy(ray: Any, rd: Any) -> Any:
    """Ray Data's sort-based shuffle, fed ``parts`` blocks (:func:`_coalesce`), keeps a
    bounded number of pieces in the driver whatever the data's size. Its hash shuffle
    (``CURATE_RAY_SHUFFLE=hash``) reserves each aggregator's memory from an estimate of
    the data; in Ray 2.60 the estimate for dedup's joins exceeded a node's memory, was
    clamped to the whole node, and the second aggregator then waited for memory that
    never freed (a 1M dedup stalled on 2-CPU nodes; 1-CPU nodes stalled earlier)."""
    del ray
    choice = os.environ.get(SHUFFLE_VAR, "") or "sort"
    if choice not in ("hash", "sort"):
        raise CurateError(f"{SHUFFLE_VAR}={choice!r}: use hash or sort")
    strategies = rd.context.ShuffleStrategy
    return strategies.HASH_SHUFFLE if choice == "hash" else strategies.SORT_SHUFFLE_PULL_BASED


def _parallelism() -> int:
    import ray

    return max(2, int(ray.cluster_resources().get("CPU", 2)))


def materialize(ds: Any, on_rows: Callable[[int], None] | None = None) -> Any:
    """``ds.materialize()``, calling ``on_rows(n)`` as each block of ``n`` rows is done:
    a progress bar over a long step (Ray Data's own bars are off). The blocks stay where
    the workers put them; the driver holds their references, as ``materialize`` does."""
    if on_rows is None:
        return ds.materialize()
    import ray.data as rd

    refs = []
    for bundle in ds.iter_internal_ref_bundles():  # what ``get_internal_block_refs`` reads
        if any(s is not None for s in getattr(bundle, "slices", None) or ()):
            return ds.materialize()  # part blocks (not from a map step): no shortcut
        refs.extend(bundle.block_refs)
        on_rows(bundle.num_rows() or 0)
    return rd.from_arrow_refs(refs) if refs else ds.materialize()


# -- ordered map ---------------------------------------------------------------------------


def _absolute(task: Any) -> Any:
    """A task whose line block names a file by a relative path reads it by its absolute
    path (a worker's working folder is not the driver's); findings keep the given name."""
    from curate.parallel import LineBlock

    lines = getattr(task, "lines", None)
    if isinstance(lines, LineBlock) and lines.path and not os.path.isabs(lines.path):
        lines.path = os.path.abspath(lines.path)
    return task


def _run_pickled(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    import pyarrow as pa

    def run(batch: pa.Table) -> pa.Table:
        out = []
        for b in batch.column("task").to_pylist():
            task = pickle.loads(b)
            try:
                out.append(pickle.dumps(fn(task), pickle.HIGHEST_PROTOCOL))
            except CurateError:
                raise
            except Exception as e:  # the batch's source, then the cause
                raise CurateError(f"{describe(task)}: {type(e).__name__}: {e}") from e
        return pa.table({"i": batch.column("i"), "result": pa.array(out, pa.large_binary())})

    return run


def describe(task: Any) -> str:
    """Where a batch comes from (``file:first line``), for a worker's error."""
    lines = getattr(task, "lines", None)
    first = getattr(lines, "first_line", None)
    if first is None and isinstance(lines, list) and lines:
        first = lines[0][0]
    return f"{getattr(task, 'file', '?')}:{first if first is not None else '?'}"


def ordered_map(fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
    """``map(fn, tasks)`` in input order, each task in a Ray Data ``map_batches`` task
    (``fn`` must be a module-level function: workers import it). A task that fails is
    retried by Ray; one that keeps failing raises here with its error."""
    import pyarrow as pa
    import ray.data as rd

    items = [pickle.dumps(_absolute(t), pickle.HIGHEST_PROTOCOL) for t in tasks]
    if not items:
        return
    table = pa.table({"i": pa.array(range(len(items)), pa.int64()),
                      "task": pa.array(items, pa.large_binary())})  # fmt: skip
    del items
    ds = rd.from_arrow(table).repartition(table.num_rows)
    ds = ds.map_batches(_run_pickled(fn), batch_format="pyarrow", batch_size=1)
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        for b in batch.column("result").to_pylist():
            yield pickle.loads(b)


# -- validate ------------------------------------------------------------------------------


def validate_ray(paths: Any, **kwargs: Any) -> Any:
    """:func:`curate.validate.validate_path` with each batch checked in a Ray task."""
    from curate.validate import validate_path

    return validate_path(paths, map_batches=ordered_map, **kwargs)


# -- grouping by key -------------------------------------------------------------------------


def n_parts(rows: int) -> int:
    """Partitions for a grouping of ``rows`` rows: one per CPU of the cluster at least,
    and about 1,000,000 rows each (what one reduce task holds at a time)."""
    return max(_parallelism(), rows // 1_000_000 + 1)


def _coalesce(ds: Any, parts: int, rows: int | None = None) -> Any:
    """``ds`` in about ``parts`` blocks (adjacent blocks joined or split, no shuffle), for
    a grouping into ``parts`` partitions. Ray Data's sort-based shuffle has as many
    reducers as input blocks, and each map task returns one piece per reducer, all owned
    by the driver: from N blocks that is N * N pieces, tiny ones at scale (300 blocks of
    63,000 key rows: 90,000 pieces, and the driver grew by 540 MiB). From ``parts`` blocks
    it is ``parts * parts`` large pieces, whatever the data's size. With ``rows`` (an
    estimate of the dataset's rows) the blocks are joined as they stream, to ``rows /
    parts`` rows each (``strict``: without it Ray Data only splits large blocks and
    joins none, and a 5M-example dedup sent 1,497 blocks into the key grouping, whose
    pieces took the driver past 13 GB); without, ``repartition(parts)`` waits for the
    whole dataset and copies it once more into the object store."""
    if rows:
        return ds.repartition(target_num_rows_per_block=max(1, -(-rows // parts)), strict=True)
    return ds.repartition(parts)


def part_of(keys: np.ndarray, parts: int) -> np.ndarray:
    """The partition of each key: ``int64`` keys, or ``bytes`` keys by their first 8
    bytes (the keys are hashes), spread by splitmix64."""
    from curate.split import splitmix64

    if keys.dtype == object:
        keys = np.array(
            [int.from_bytes(bytes(k)[:8].ljust(8, b"\0"), "little") for k in keys],
            dtype=np.uint64,
        )
    return (splitmix64(keys.astype(np.uint64)) % np.uint64(parts)).astype(np.int64)


def _with_part(column: str, parts: int, tag: int | None) -> Callable[[Any], Any]:
    import pyarrow as pa

    def add(t: pa.Table) -> pa.Table:
        keys = t.column(column).to_numpy(zero_copy_only=False)
        t = t.append_column("_part", pa.array(part_of(keys, parts), pa.int64()))
        if tag is not None:
            t = t.append_column("_tag", pa.array(np.full(t.num_rows, tag, np.int8)))
        return t

    return add


def by_key(
    ds: Any, column: str, fn: Callable[[Any], Any], parts: int, rows: int | None = None
) -> Any:
    """``fn`` over every partition of ``ds`` hash-partitioned on ``column``: each call
    gets every row of its keys (an Arrow table, several keys per call; ``fn`` groups
    them itself, vectorised) and returns an Arrow table. ``rows``: an estimate of the
    rows of ``ds`` (:func:`_coalesce`)."""
    keyed = ds.map_batches(_with_part(column, parts, None), batch_format="pyarrow")
    return (
        _coalesce(keyed, parts, rows)
        .groupby("_part", num_partitions=parts)
        .map_groups(_drop_part(fn), batch_format="pyarrow")
    )


def cogroup(sides: list[tuple[Any, ...]], fn: Callable[..., Any], parts: int) -> Any:
    """Rows of several datasets partitioned on one key (``(dataset, key column)`` each,
    or ``(dataset, key column, rows)`` with an estimate of its rows): ``fn(table_0,
    table_1, ...)`` per partition, each table holding the rows of that side whose key
    falls in the partition (a reduce-side join)."""
    import pyarrow as pa

    encoded = []
    for tag, (ds, column, *rows) in enumerate(sides):
        keyed = ds.map_batches(_with_part(column, parts, tag), batch_format="pyarrow")
        keyed = _coalesce(keyed, parts, rows[0] if rows else None)
        encoded.append(keyed.map_batches(_to_blob, batch_format="pyarrow"))
    union = encoded[0].union(*encoded[1:]) if len(encoded) > 1 else encoded[0]

    def run(t: pa.Table) -> pa.Table:
        tags = t.column("_tag").to_numpy()
        blobs = t.column("blob").to_pylist()
        tables = []
        for k in range(len(sides)):
            pieces = [_from_blob(b) for b, g in zip(blobs, tags.tolist(), strict=True) if g == k]
            pieces = [p for p in pieces if p.num_rows]
            tables.append(pa.concat_tables(pieces, promote_options="default") if pieces else None)
        return fn(*tables)

    return union.groupby("_part", num_partitions=parts).map_groups(
        _drop_part(run), batch_format="pyarrow"
    )


def _to_blob(t: Any) -> Any:
    """A batch as one row per partition present: ``(_part, _tag, blob)`` where the blob
    is the Arrow IPC stream of that partition's rows (sides of a cogroup then share one
    schema, whatever their own columns)."""
    import pyarrow as pa

    if not t.num_rows:
        return pa.table({"_part": pa.array([], pa.int64()), "_tag": pa.array([], pa.int8()),
                         "blob": pa.array([], pa.large_binary())})  # fmt: skip
    part = t.column("_part").to_numpy()
    tag = int(t.column("_tag")[0].as_py())
    rest = t.drop_columns(["_part", "_tag"])
    order = np.argsort(part, kind="stable")
    sp = part[order]
    bounds = np.flatnonzero(np.diff(sp, prepend=-1, append=-1))
    parts, blobs = [], []
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        sink = pa.BufferOutputStream()
        piece = rest.take(pa.array(order[s:e]))
        with pa.ipc.new_stream(sink, piece.schema) as w:
            w.write_table(piece)
        parts.append(int(sp[s]))
        blobs.append(sink.getvalue().to_pybytes())
    return pa.table({"_part": pa.array(parts, pa.int64()),
                     "_tag": pa.array([tag] * len(parts), pa.int8()),
                     "blob": pa.array(blobs, pa.large_binary())})  # fmt: skip


def _from_blob(b: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(b)).read_all()


def _drop_part(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(t: Any) -> Any:
        if "_part" in t.column_names and "blob" not in t.column_names:
            t = t.drop_columns(["_part"])
        return fn(t)

    return run


def runs(keys: list[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, bounds)``: ``keys[order]`` sorted (stable), and the start of each run of
    equal keys in it (plus the end)."""
    arr = np.asarray(keys) if not isinstance(keys, np.ndarray) else keys
    order = np.argsort(arr, kind="stable")
    s = arr[order]
    if len(s) == 0:
        return order, np.zeros(1, np.int64)
    change = np.ones(len(s), dtype=bool)
    change[1:] = s[1:] != s[:-1]
    return order, np.concatenate([np.flatnonzero(change), [len(s)]])


# -- connected components ------------------------------------------------------------------


def _edges_table(u: Any, v: Any) -> Any:
    import pyarrow as pa

    return pa.table(
        {"u": pa.array(np.asarray(u, np.int64)), "v": pa.array(np.asarray(v, np.int64))}
    )


def _star_rows(node: np.ndarray, nbr: np.ndarray, *, large: bool) -> Any:
    """One star step over ``(node, neighbour)`` rows (every neighbour of a node in the
    same call). Large-star: each larger neighbour links to the smallest of the node's
    closed neighbourhood. Small-star (the rows hold only smaller neighbours): the node
    and its neighbours link to the smallest of them."""
    if not len(node):
        return _edges_table([], [])
    order, bounds = runs(node)
    node, nbr = node[order], nbr[order]
    starts = bounds[:-1]
    mins = np.minimum(np.minimum.reduceat(nbr, starts), node[starts])
    m = np.repeat(mins, np.diff(bounds))
    if large:
        keep = nbr > node
        return _unique_edges(nbr[keep], m[keep])
    a = np.concatenate([nbr, node[starts]])
    b = np.concatenate([m, mins])
    keep = a != b
    return _unique_edges(a[keep], b[keep])


def _unique_edges(a: np.ndarray, b: np.ndarray) -> Any:
    if not len(a):
        return _edges_table([], [])
    code = np.unique(np.stack([a, b], axis=1), axis=0)
    return _edges_table(code[:, 0], code[:, 1])


def _fingerprint(t: Any) -> Any:
    import pyarrow as pa

    from curate.split import splitmix64

    u = t.column("u").to_numpy().astype(np.uint64)
    v = t.column("v").to_numpy().astype(np.uint64)
    with np.errstate(over="ignore"):
        h = splitmix64(splitmix64(u) ^ v)
        total = int(h.sum(dtype=np.uint64))
    return pa.table({"n": [t.num_rows], "h": pa.array([total], pa.uint64())})


def connected_components(edges: Any, parts: int, *, max_rounds: int = 64) -> Any:
    """Labels of the nodes of ``edges`` (columns ``u``, ``v``: ``int64``): rows ``(node,
    label)`` for every node that has an edge, ``label`` the smallest node of its
    component. Alternates large-star and small-star rounds (each one grouping of the
    edges by node, in partitions) until the edge set stops changing: then it is a star
    around each component's smallest node."""
    import pyarrow as pa

    def oriented(t: pa.Table) -> pa.Table:
        u = t.column("u").to_numpy()
        v = t.column("v").to_numpy()
        keep = u != v
        return _unique_edges(np.minimum(u, v)[keep], np.maximum(u, v)[keep])

    cur = edges.map_batches(oriented, batch_format="pyarrow").materialize()
    last = None
    for _ in range(max_rounds):
        cur = _node_partitioned(cur, parts, both=True)
        cur = _node_partitioned(cur, parts, both=False).materialize()
        fps = cur.map_batches(_fingerprint, batch_format="pyarrow").take_all()
        mask = (1 << 64) - 1
        fp = (sum(r["n"] for r in fps), sum(int(r["h"]) for r in fps) & mask)
        if fp == last:
            break
        last = fp
    else:  # pragma: no cover - a graph needing more rounds than any seen
        raise CurateError(f"connected components did not settle in {max_rounds} rounds")

    def labels(t: pa.Table) -> pa.Table:
        u = t.column("u").to_numpy()
        v = t.column("v").to_numpy()
        leaf, centre = np.maximum(u, v), np.minimum(u, v)  # a star: centre = smallest
        return pa.table({"node": np.concatenate([leaf, centre]),
                         "label": np.concatenate([centre, centre])})  # fmt: skip

    return cur.map_batches(labels, batch_format="pyarrow")


def _node_partitioned(ds: Any, parts: int, *, both: bool) -> Any:
    """``fn`` over the edges partitioned by node: with ``both``, each edge reaches the
    partitions of both its ends (large-star); else the partition of its larger end
    (small-star)."""
    import pyarrow as pa

    def route(t: pa.Table) -> pa.Table:
        u = t.column("u").to_numpy()
        v = t.column("v").to_numpy()
        hi = np.maximum(u, v)
        lo = np.minimum(u, v)
        if both:
            node = np.concatenate([lo, hi])
            uu, vv = np.concatenate([lo, lo]), np.concatenate([hi, hi])
        else:
            node, uu, vv = hi, lo, hi
        return pa.table({"_part": part_of(node, parts), "_node": node, "u": uu, "v": vv})

    keyed = _coalesce(ds.map_batches(route, batch_format="pyarrow"), parts)
    return keyed.groupby("_part", num_partitions=parts).map_groups(
        _per_node(both), batch_format="pyarrow"
    )


def _per_node(both: bool) -> Callable[[Any], Any]:
    """The star step over one partition of routed edges."""
    import pyarrow as pa

    def run(t: pa.Table) -> pa.Table:
        node = t.column("_node").to_numpy()
        u = t.column("u").to_numpy()
        v = t.column("v").to_numpy()
        return _star_rows(node, np.where(u == node, v, u), large=both)

    return run


# -- split -----------------------------------------------------------------------------------


class RayExecutor:
    """A ``concurrent.futures.Executor`` look-alike whose ``submit`` runs the call as a Ray
    task (retried by Ray when a worker dies): what :func:`curate.parallel.run_ordered`
    needs to keep a stage's batches in order with a bounded number in flight."""

    def __init__(self, max_retries: int = 3) -> None:
        import ray

        self._call = ray.remote(max_retries=max_retries)(_call)
        self._refs: list[Any] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        ref = self._call.remote(fn, args, kwargs)
        return _RayFuture(ref)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        del wait, cancel_futures


class _RayFuture:
    def __init__(self, ref: Any) -> None:
        self.ref = ref

    def result(self, timeout: float | None = None) -> Any:
        import ray

        return ray.get(self.ref, timeout=timeout)


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


def split_ray(path: Any, outdir: Any, options: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`curate.split.split_path` with its scan and export batches (the pure
    :func:`curate.split.scan_batch` and :func:`curate.split.export_batch`) run as Ray
    tasks; grouping and assignment run as the local engine runs them, on the compact
    per-example hashes the scan returns (about 50 bytes per example)."""
    from curate.split import split_path

    return split_path(path, outdir, options, executor=RayExecutor(), **kwargs)  # type: ignore[arg-type]
