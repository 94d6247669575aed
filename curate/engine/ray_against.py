"""``curate dedup --against`` (decontamination) on Ray Data, deciding as
:meth:`curate.dedup.core.DuplicateIndex.solve` does.

The reference files are read as more inputs, after the training files: their positions
(``file_index << 40 | line``) sort after every training document's, as the local
engine's running index puts them, and their key rows join the training ones in the one
key grouping of :mod:`curate.engine.ray_dedup` (:func:`~curate.engine.ray_dedup._edges_of_keys`
with ``n_train``):

- *exact keys*: a training key that a reference shares is contaminated, every training
  copy of it, by the key's first reference copy (similarity 1.0); it makes no copy links;
- *LSH bands and containment runs* look among one document per exact key, the first
  reference copy if there is one, else the first training copy (the local engine's
  ``uniq``): a bucket holds the same members as locally and gives the same pairs (all
  pairs up to 128 members, a star and a chain past that, whatever side they come from).

This module does the rest, over the edges those give (verified near pairs and containment
links, :func:`decontaminate`), with Ray Data groupings only:

1. each training document with a link to a reference (a near pair, or containment
   either way) takes its best one: the highest similarity, then the earlier reference,
   then a near match before a containment one (a grouping of those links by their
   training end);
2. the same grouping carries the training-only links keyed by their first end: a
   contaminated document's copy links pass its decision to its later exact copies (they
   share its key), and every link from a contaminated document is dropped;
3. a second grouping, by the other end, drops the links to a contaminated document:
   what remains is the graph over the other training documents, which the local engine
   resolves too;
4. :func:`named`: the contaminated documents' ids and their references' are joined by
   position, as decision rows of the writer.

No step holds the references in one process: they are more rows of the same groupings
(a reference set as large as the training data costs what as much training data costs).
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from curate.engine.ray_dedup import COPY, LINE_BITS, _edge_table

#: edge kinds of a contamination decision: ``a`` the training document, ``b`` the
#: reference, matched by text (exact or near) or by turns contained either way
CONTAM_TEXT, CONTAM_TURNS = -3, -4


def is_ref(pos: np.ndarray, n_train: int) -> np.ndarray:
    """Whether each position is in a reference file (file index ``>= n_train``)."""
    return (np.asarray(pos, dtype=np.int64) >> LINE_BITS) >= n_train


def side(n_train: int, *, ref: bool, columns: list[str]) -> Any:
    """A ``map_batches`` function: the rows of the training (or reference) documents."""
    import pyarrow as pa

    def run(t: pa.Table) -> pa.Table:
        mask = is_ref(t.column("pos").to_numpy(), n_train)
        return t.filter(pa.array(mask if ref else ~mask)).select(columns)

    return run


def _split(n_train: int, what: str) -> Any:
    """A ``map_batches`` function over the verified edges: ``exact`` the exact-key
    contamination rows; ``reference`` the links with one reference end, as ``(t, r,
    kind, sim)``; ``training`` the links between two training documents."""
    import pyarrow as pa

    from curate.dedup.resolve import CONTAINS, SIMILAR

    def run(t: pa.Table) -> pa.Table:
        a = t.column("a").to_numpy()
        b = t.column("b").to_numpy()
        kind = t.column("kind").to_numpy()
        ra, rb = is_ref(a, n_train), is_ref(b, n_train)
        linked = (kind == SIMILAR) | (kind == CONTAINS)
        if what == "exact":
            return t.filter(pa.array(kind == CONTAM_TEXT))
        if what == "training":
            return t.filter(pa.array((linked | (kind == COPY)) & ~ra & ~rb))
        one = linked & (ra != rb)
        return pa.table({
            "t": pa.array(np.where(ra, b, a)[one], pa.int64()),
            "r": pa.array(np.where(ra, a, b)[one], pa.int64()),
            "kind": pa.array(kind[one], pa.int8()),
            "sim": pa.array(t.column("sim").to_numpy()[one], pa.float64()),
        })  # fmt: skip

    return run


def _contaminate(links: Any, edges: Any) -> Any:
    """Per partition of training documents: each one's best reference link (as a
    contamination row), its copy links turned into contamination rows of its copies,
    and the training links not starting at a contaminated document."""
    import pyarrow as pa

    from curate.dedup.resolve import CONTAINS

    if links is None or not links.num_rows:
        return edges if edges is not None else _edge_table([], [], [], [])
    t = links.column("t").to_numpy()
    r = links.column("r").to_numpy()
    kind = links.column("kind").to_numpy()
    sim = links.column("sim").to_numpy()
    # per document: the highest similarity, then the earlier reference, then a near
    # match before a containment one (the local engine's order: near pairs first, and
    # a later match replaces an earlier one only when strictly better)
    order = np.lexsort((kind, r, -sim, t))
    ts = t[order]
    first = np.ones(len(ts), dtype=bool)
    first[1:] = ts[1:] != ts[:-1]
    best = order[first]
    bt, br, bsim = t[best], r[best], sim[best]
    bkind = np.where(kind[best] == CONTAINS, CONTAM_TURNS, CONTAM_TEXT).astype(np.int8)
    out = [_edge_table(bt.tolist(), br.tolist(), bkind.tolist(), bsim.tolist())]
    if edges is not None and edges.num_rows:
        a = edges.column("a").to_numpy()
        at = np.minimum(np.searchsorted(bt, a), len(bt) - 1)  # bt is sorted
        hit = bt[at] == a
        copy = hit & (edges.column("kind").to_numpy() == COPY)
        j = at[copy]
        b = edges.column("b").to_numpy()[copy]
        out.append(_edge_table(b.tolist(), br[j].tolist(), bkind[j].tolist(), bsim[j].tolist()))
        out.append(edges.filter(pa.array(~hit)))
    return pa.concat_tables(out)


def _drop_linked(contaminated: Any, edges: Any) -> Any:
    """Per partition of documents: the training links whose ``b`` end is not
    contaminated."""
    import pyarrow as pa

    if edges is None:
        return _edge_table([], [], [], [])
    if contaminated is None:
        return edges
    gone = np.unique(contaminated.column("a").to_numpy())
    return edges.filter(pa.array(~np.isin(edges.column("b").to_numpy(), gone)))


def _kinds(contaminated: bool) -> Any:
    import pyarrow as pa

    def run(t: pa.Table) -> pa.Table:
        kind = t.column("kind").to_numpy()
        mask = (kind == CONTAM_TEXT) | (kind == CONTAM_TURNS)
        return t.filter(pa.array(mask if contaminated else ~mask))

    return run


def decontaminate(
    edges: Any, n_train: int, parts: int, *, graph: bool = True, phase: Any = None
) -> tuple[Any, Any]:
    """``(graph edges, contamination rows)`` from the verified edges of a key grouping
    made with ``n_train``: the links between training documents that are not
    contaminated (``None`` without ``graph``: decontaminate only), and one row per
    contaminated training document (``a``; ``b`` its reference, ``kind`` ``CONTAM_TEXT``
    or ``CONTAM_TURNS``, ``sim`` its similarity)."""
    from curate.engine.ray import cogroup

    def step(name: str, ds: Any) -> Any:
        return phase(name, ds) if phase is not None else ds.materialize()

    exact = edges.map_batches(_split(n_train, "exact"), batch_format="pyarrow")
    links = edges.map_batches(_split(n_train, "reference"), batch_format="pyarrow")
    training = edges.map_batches(_split(n_train, "training"), batch_format="pyarrow")
    links = step("links to references", links)
    if not links.count():
        return (training if graph else None), exact
    decided = step("best reference match per document",
                   cogroup([(links, "t"), (training, "a")], _contaminate, parts))  # fmt: skip
    near = decided.map_batches(_kinds(True), batch_format="pyarrow")
    if not graph:
        return None, exact.union(near)
    rest = decided.map_batches(_kinds(False), batch_format="pyarrow")
    clean = cogroup([(near, "a"), (rest, "b")], _drop_linked, parts)
    return clean, exact.union(near)


def _with_id(rows: Any, ids: Any) -> Any:
    """Per partition of training documents: the contamination rows with the document's
    id (``id_a``)."""
    import pyarrow as pa

    if rows is None:
        return pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.int64()),
                         "kind": pa.array([], pa.int8()), "sim": pa.array([], pa.float64()),
                         "id_a": pa.array([], pa.string())})  # fmt: skip
    pos = ids.column("pos").to_numpy()
    order = np.argsort(pos)
    at = order[np.searchsorted(pos[order], rows.column("a").to_numpy())]
    return rows.append_column("id_a", ids.column("id").take(pa.array(at)))


def _decide(rows: Any, ids: Any) -> Any:
    """Per partition of references: the writer's decision row of each contaminated
    document (``row`` 0), its reference's id joined."""
    import pyarrow as pa

    from curate.dedup.core import BY_CONTAINMENT, BY_JACCARD
    from curate.dedup.resolve import CONTAMINATED

    out: dict[str, list[Any]] = {"pos": [], "row": [], "blob": []}
    if rows is not None:
        ref_id = dict(zip(ids.column("pos").to_pylist(), ids.column("id").to_pylist(),
                          strict=True))  # fmt: skip
        for x in rows.to_pylist():
            r, rid, sim = x["b"], ref_id[x["b"]], x["sim"]
            how = BY_CONTAINMENT if x["kind"] == CONTAM_TURNS else BY_JACCARD
            dec = (x["a"], x["id_a"], CONTAMINATED, r, rid, r, rid, sim, sim, how)
            out["pos"].append(x["a"])
            out["row"].append(0)
            out["blob"].append(pickle.dumps(dec))
    return pa.table({"pos": pa.array(out["pos"], pa.int64()),
                     "row": pa.array(out["row"], pa.int8()),
                     "blob": pa.array(out["blob"], pa.binary())})  # fmt: skip


def named(contaminated: Any, docs: Any, n_train: int, counts: tuple[int, int], parts: int) -> Any:
    """The decision rows of the contaminated documents (``None`` when there is none):
    the rows of :func:`decontaminate` joined with the training documents' ids by ``a``,
    then with the references' ids by ``b``. ``counts``: training and reference documents
    (row estimates)."""
    from curate.engine.ray import cogroup

    if not contaminated.count():
        return None
    ids_t = docs.map_batches(side(n_train, ref=False, columns=["pos", "id"]),
                             batch_format="pyarrow")  # fmt: skip
    ids_r = docs.map_batches(side(n_train, ref=True, columns=["pos", "id"]),
                             batch_format="pyarrow")  # fmt: skip
    with_id = cogroup([(contaminated, "a"), (ids_t, "pos", counts[0])], _with_id, parts)
    return cogroup([(with_id, "b"), (ids_r, "pos", counts[1])], _decide, parts)


__all__ = ["CONTAM_TEXT", "CONTAM_TURNS", "decontaminate", "is_ref", "named", "side"]
