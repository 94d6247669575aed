"""``curate dedup`` on Ray Data: the same edges, components and resolution as the local
engine (:meth:`curate.dedup.core.DuplicateIndex.solve`), with no step holding every
document in one process.

1. *features*: each block of lines goes through :func:`curate.dedup.run.featurize_lines`
   (the local pool's function) in ``map_batches``: one row per document with its keys,
   MinHash signature and shingles, and its position ``file_index << 40 | line``.
2. *edges*: one grouping of key rows: exact keys (later copies link to the first),
   LSH band keys (the first copy of each exact key, pairs as
   :func:`curate.dedup.lsh.run_pairs` makes them), containment keys (a conversation's
   own turn sequence against the runs inside longer ones). Candidate pairs are joined
   with both documents' signatures and shingles (two partitioned joins) and verified by
   :func:`curate.dedup.lsh.verify`.
3. *components*: :func:`curate.engine.ray.connected_components` over the edges.
4. *resolution*: members and edges grouped by component, each component decided by
   :func:`curate.dedup.resolve.resolve_component` (the local engine's function).
5. *write*: the decisions of removed documents, sorted by position, stream to the driver,
   which re-reads the inputs once and writes the outputs as the local engine does.

With ``against`` (``--against``), the reference files are more inputs after the training
files, their rows in the same steps; between 2 and 3, :mod:`curate.engine.ray_against`
decides the contaminated documents and takes them out of the graph (without ``dedup``,
``--decontaminate-only``, there is no graph: steps 3 and 4 do not run).
"""

from __future__ import annotations

import functools
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from curate.records import CurateError

LINE_BITS = 40
LINE_MASK = (1 << LINE_BITS) - 1
#: key kinds of the edge grouping
_EXACT, _BAND, _CONTAIN = 0, 1, 2
_ZERO8 = b"\0" * 8


#: the number of input blocks a dedup aims at (at least 4 per CPU of the cluster): the
#: driver's memory grows with the blocks each step tracks (Ray Data's bookkeeping, about
#: 0.4 MiB a block over a run: 1M examples in 300 blocks of 1 MiB, driver peak 316 MiB;
#: in 1,198 blocks of 256 KiB, 590 MiB), not with the rows, so the blocks grow with the
#: data instead of their number
TARGET_BLOCKS = 256
#: the smallest and largest input block, in bytes
MIN_BLOCK, MAX_BLOCK = 1 << 20, 64 << 20


def block_size(total_bytes: int, cpus: int) -> int:
    """Bytes per input block for ``total_bytes`` of input on ``cpus`` CPUs: about
    :data:`TARGET_BLOCKS` blocks (at least 4 a CPU), each 1 to 64 MiB.

    Example:
        >>> block_size(300 << 20, 2) >> 20, block_size(1600 << 20, 2) >> 20
        (1, 6)
    """
    blocks = max(TARGET_BLOCKS, 4 * cpus)
    return min(MAX_BLOCK, max(MIN_BLOCK, -(-total_bytes // blocks)))


def block_rows(files: Sequence[str], block_bytes: int | None = None) -> Any:
    """The inputs as Arrow rows of line blocks (byte ranges of plain files; the bytes of
    compressed ones): ``fi, name, path, first_line, offset, length, n_newlines, data``.
    ``block_bytes``: default :func:`block_size` of the inputs on the cluster's CPUs."""
    import pyarrow as pa

    from curate.io import source_file
    from curate.parallel import block_batches

    if block_bytes is None:
        from curate.engine.ray import _parallelism

        total = sum(os.path.getsize(source_file(f)) for f in files)
        block_bytes = block_size(total, _parallelism())

    cols: dict[str, list[Any]] = {k: [] for k in ("fi", "name", "path", "first_line", "offset",
                                                  "length", "n_newlines", "data")}  # fmt: skip
    for fi, name in enumerate(files):
        for b in block_batches(name, block_bytes=block_bytes):
            cols["fi"].append(fi)
            cols["name"].append(name)
            cols["path"].append(os.path.abspath(b.path) if b.path else None)
            cols["first_line"].append(b.first_line)
            cols["offset"].append(b.offset)
            cols["length"].append(b.length)
            cols["n_newlines"].append(b.n_newlines)
            cols["data"].append(None if b.path else b.data)
    return pa.table({
        "fi": pa.array(cols["fi"], pa.int64()),
        "name": pa.array(cols["name"], pa.string()),
        "path": pa.array(cols["path"], pa.string()),
        "first_line": pa.array(cols["first_line"], pa.int64()),
        "offset": pa.array(cols["offset"], pa.int64()),
        "length": pa.array(cols["length"], pa.int64()),
        "n_newlines": pa.array(cols["n_newlines"], pa.int64()),
        "data": pa.array(cols["data"], pa.large_binary()),
    })  # fmt: skip


def block_lines(row: dict[str, Any]) -> Any:
    """The :class:`curate.parallel.LineBlock` a block row names."""
    from curate.parallel import LineBlock

    if row["path"] is not None:
        return LineBlock.at(row["first_line"], row["path"], row["offset"], row["length"],
                            row["n_newlines"])  # fmt: skip
    return LineBlock(row["first_line"], row["data"])


def _featurize_blocks(params: Any) -> Callable[[Any], Any]:
    import pyarrow as pa

    from curate.dedup.run import featurize_lines

    def run(t: pa.Table) -> pa.Table:
        out: list[pa.Table] = []
        for row in t.to_pylist():
            try:
                res = featurize_lines(row["name"], list(block_lines(row)), params)
            except CurateError:
                raise
            except Exception as e:  # the batch's source, then the cause
                raise CurateError(f"{row['name']}:{row['first_line']}: "
                                  f"{type(e).__name__}: {e}") from e  # fmt: skip
            out.append(_doc_table(row["fi"], res))
        return pa.concat_tables(out)

    return run


def _doc_table(fi: int, res: Any) -> Any:
    """One row per document of a featurized block (and one per unreadable line, with
    ``bad`` set and empty features)."""
    import pyarrow as pa

    f = res.features
    n = len(res.lines)
    bad = np.asarray(res.invalid, dtype=np.int64)
    pos = np.concatenate([(fi << LINE_BITS) | res.lines.astype(np.int64),
                          (fi << LINE_BITS) | bad]).astype(np.int64)  # fmt: skip
    nb = len(bad)
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(f.sh_len, out=off[1:])
    sh = [f.sh_flat[off[i] : off[i + 1]].tobytes() for i in range(n)]
    sig = [f.sig[i].tobytes() for i in range(n)]
    conv_ok = (f.n_turns >= 2) & (f.conv != np.bytes_(_ZERO8))

    def pad(values: list[Any]) -> list[Any]:
        return values + [None] * nb

    return pa.table(
        {
            "pos": pa.array(pos, pa.int64()),
            "bad": pa.array(np.concatenate([np.zeros(n, bool), np.ones(nb, bool)])),
            "id": pa.array(pad(list(res.ids)), pa.string()),
            "exact": pa.array(pad(f.exact.tolist()), pa.binary()),
            "prompt": pa.array(pad(f.prompt.tolist()), pa.binary()),
            "answer": pa.array(pad(f.answer.tolist()), pa.binary()),
            "n_turns": pa.array(pad(f.n_turns.tolist()), pa.int64()),
            "answer_chars": pa.array(pad(f.answer_chars.tolist()), pa.int64()),
            "sig": pa.array(pad(sig), pa.binary()),
            "sh": pa.array(pad(sh), pa.binary()),
            "sh_len": pa.array(pad(f.sh_len.tolist()), pa.int64()),
            # the keys as integers, for the grouping (equal bytes, equal integers)
            "ex1": pa.array(np.concatenate([u64(f.exact, 2)[:, 0], np.zeros(nb, np.uint64)])),
            "ex2": pa.array(np.concatenate([u64(f.exact, 2)[:, 1], np.zeros(nb, np.uint64)])),
            "conv_k": pa.array(
                np.concatenate(
                    [np.where(conv_ok, u64(f.conv, 1)[:, 0], 0), np.zeros(nb, np.uint64)]
                ).astype(np.uint64)
            ),
            "windows_k": pa.array(
                pad(
                    [
                        u64(f.windows[i], 1)[:, 0].tolist() if i in f.windows else []
                        for i in range(n)
                    ]
                ),
                pa.list_(pa.uint64()),
            ),
        }
    )


def u64(a: np.ndarray, words: int) -> np.ndarray:
    """A fixed-width bytes array (``S8``, ``S16``) as ``(n, words)`` ``uint64``."""
    if not len(a):
        return np.zeros((0, words), np.uint64)
    return np.ascontiguousarray(a).view(np.uint64).reshape(len(a), words)


def _select(columns: list[str], *, bad: bool = False) -> Callable[[Any], Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    def run(t: pa.Table) -> pa.Table:
        mask = t.column("bad")
        if not bad:
            mask = pc.invert(mask)
        return t.filter(mask).select(columns)

    return run


# -- edges ------------------------------------------------------------------------------------


def _key_rows(
    params: Any, bands: int, rows: int, *, references: bool = False
) -> Callable[[Any], Any]:
    """Per document: its exact-key row, its LSH band rows (when it has shingles) and its
    containment rows (its own turn sequence; the runs inside it). A key is ``(g, k1, k2)``
    (kind, then two integers); ``e1, e2`` is the document's exact key. With
    ``references``, containment rows are made under ``--no-containment`` too (a training
    conversation holding a reference, or held in one, is contaminated either way)."""
    import pyarrow as pa

    from curate.dedup.lsh import _band_keys

    near = params.near
    contain = near and (params.containment or references) and params.scope == "conversation"

    def run(t: pa.Table) -> pa.Table:
        pos = t.column("pos").to_numpy()
        e1 = t.column("ex1").to_numpy()
        e2 = t.column("ex2").to_numpy()
        nt = t.column("n_turns").to_numpy()
        idx = [np.arange(len(pos))]
        g = [np.full(len(pos), _EXACT, np.int8)]
        k1, k2 = [e1], [e2]
        sub = [np.zeros(len(pos), np.int8)]
        if near and len(pos):
            has = np.flatnonzero(t.column("sh_len").to_numpy() > 0)
            if len(has):
                sig = np.frombuffer(
                    b"".join(t.column("sig").take(pa.array(has)).to_pylist()), dtype=np.uint32
                ).reshape(len(has), -1)
                for b in range(bands):
                    idx.append(has)
                    g.append(np.full(len(has), _BAND, np.int8))
                    k1.append(_band_keys(sig, b, rows))
                    k2.append(np.full(len(has), b, np.uint64))
                    sub.append(np.zeros(len(has), np.int8))
        if contain and len(pos):
            conv = t.column("conv_k").to_numpy()
            has = np.flatnonzero(conv != 0)
            wins = t.column("windows_k")
            counts = np.diff(wins.combine_chunks().offsets.to_numpy()) if len(wins) else []
            w_idx = np.repeat(np.arange(len(pos)), counts)
            w_keys = (wins.combine_chunks().values.to_numpy() if len(w_idx)
                      else np.zeros(0, np.uint64))  # fmt: skip
            for i, k, sb in ((has, conv[has], 0), (w_idx, w_keys, 1)):
                idx.append(i)
                g.append(np.full(len(i), _CONTAIN, np.int8))
                k1.append(k.astype(np.uint64))
                k2.append(np.zeros(len(i), np.uint64))
                sub.append(np.full(len(i), sb, np.int8))
        at = np.concatenate(idx)
        return pa.table({
            "g": pa.array(np.concatenate(g)),
            "k1": pa.array(np.concatenate(k1).astype(np.uint64)),
            "k2": pa.array(np.concatenate(k2).astype(np.uint64)),
            "sub": pa.array(np.concatenate(sub)),
            "pos": pa.array(pos[at], pa.int64()),
            "e1": pa.array(e1[at]), "e2": pa.array(e2[at]),
            "n_turns": pa.array(nt[at], pa.int64()),
        })  # fmt: skip

    return run


def _edge_table(a: list[int], b: list[int], kind: list[int], sim: list[float]) -> Any:
    import pyarrow as pa

    return pa.table({"a": pa.array(a, pa.int64()), "b": pa.array(b, pa.int64()),
                     "kind": pa.array(kind, pa.int8()),
                     "sim": pa.array(sim, pa.float64())})  # fmt: skip


#: edge kinds beyond curate.dedup.resolve's: a candidate pair to verify, an exact copy
CANDIDATE, COPY = -2, -1
#: a training copy of an exact key a reference shares (``ray_against.CONTAM_TEXT``)
_CONTAM_TEXT = -3


def _edges_of_keys(
    t: Any, n_train: int | None = None, *, within: bool = True, contains: bool = True
) -> Any:
    """Edges from one partition of key rows: per exact key, the first copy to each later
    one (``COPY``); per LSH band key, candidate pairs among first copies; per
    containment key, each conversation whose turn sequence it is to each longer one
    holding it as a run. Only keys shared by two or more rows are looked at.

    With ``n_train`` (files from that index on are references, ``--against``), as the
    local engine: an exact key shared with a reference makes each training copy a
    contamination row to the first reference copy (``CONTAM_TEXT`` of
    :mod:`curate.engine.ray_against`) instead of copy links; bands and containment runs
    look among the first reference copy of each exact key, else its first training copy;
    no pair of two references is made; without ``within`` (decontaminate only) no
    candidate or containment pair of two training documents either, and without
    ``contains`` no containment link between two training documents."""
    from curate.dedup.lsh import run_pairs
    from curate.dedup.resolve import CONTAINS

    g = t.column("g").to_numpy()
    k1 = t.column("k1").to_numpy()
    k2 = t.column("k2").to_numpy()
    order = np.lexsort((k2, k1, g))
    g, k1, k2 = g[order], k1[order], k2[order]
    change = np.ones(len(order), dtype=bool)
    change[1:] = (g[1:] != g[:-1]) | (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])
    starts = np.flatnonzero(change)
    sizes = np.diff(np.append(starts, len(order)))
    a: list[int] = []
    b: list[int] = []
    kind: list[int] = []
    sim: list[float] = []
    multi = np.flatnonzero(sizes >= 2)
    if not len(multi):
        return _edge_table(a, b, kind, sim)
    pos = t.column("pos").to_numpy()[order]
    sub = t.column("sub").to_numpy()[order]
    e1 = t.column("e1").to_numpy()[order]
    e2 = t.column("e2").to_numpy()[order]
    nt = t.column("n_turns").to_numpy()[order]
    ref = (pos >> LINE_BITS) >= n_train if n_train is not None else np.zeros(len(pos), bool)
    for s, n in zip(starts[multi].tolist(), sizes[multi].tolist(), strict=True):
        e = s + n
        if g[s] == _EXACT:
            ps = np.sort(pos[s:e])
            refs = ps[(ps >> LINE_BITS) >= n_train] if n_train is not None else ps[:0]
            if len(refs):  # contaminated, every training copy, by the first reference
                train = ps[: len(ps) - len(refs)]
                a.extend(train.tolist())
                b.extend([int(refs[0])] * len(train))
                kind.extend([_CONTAM_TEXT] * len(train))
                sim.extend([1.0] * len(train))
                continue
            a.extend([int(ps[0])] * (n - 1))
            b.extend(ps[1:].tolist())
            kind.extend([COPY] * (n - 1))
            sim.extend([1.0] * (n - 1))
            continue
        # one document per exact key (every copy shares these keys): its first reference
        # copy, else its first copy
        first: dict[tuple[int, int, int], tuple[bool, int, int]] = {}
        for r in range(s, e):
            key = (int(e1[r]), int(e2[r]), int(sub[r]))
            cur = first.get(key)
            mine = (not ref[r], int(pos[r]), int(nt[r]))
            if cur is None or mine[:2] < cur[:2]:
                first[key] = mine
        if g[s] == _BAND:
            members = np.array(sorted(v[1] for v in first.values()), dtype=np.int64)
            if len(members) < 2:
                continue
            for part in run_pairs(members, np.ones(len(members) - 1, dtype=bool)):
                if n_train is not None:
                    ra = (part[:, 0] >> LINE_BITS) >= n_train
                    rb = (part[:, 1] >> LINE_BITS) >= n_train
                    part = part[(ra != rb) | (~ra & ~rb & within)]
                a.extend(part[:, 0].tolist())
                b.extend(part[:, 1].tolist())
                kind.extend([CANDIDATE] * len(part))
                sim.extend([0.0] * len(part))
        else:  # containment: sub 0 = the conversation itself, 1 = a run inside one
            convs = [v for k, v in first.items() if k[2] == 0]
            holders = [v for k, v in first.items() if k[2] == 1]
            for ca, pa_, na in convs:
                for cb, pb, nb in holders:
                    if pa_ == pb or (not ca and not cb):  # the same, or two references
                        continue
                    if ca and cb and not (within and contains):
                        continue
                    a.append(pa_)
                    b.append(pb)
                    kind.append(CONTAINS)
                    sim.append(float(na) / float(nb))
    return _edge_table(a, b, kind, sim)


def _attach(side: str) -> Callable[[Any, Any], Any]:
    """Join candidate pairs with the signature and shingles of their ``side`` end."""
    import pyarrow as pa

    def run(pairs: Any, docs: Any) -> Any:
        cols = ["a", "b", "sig_a", "sh_a"] + (["sig_b", "sh_b"] if side == "b" else [])
        if pairs is None or docs is None:
            return pa.table({c: pa.array([], pa.int64() if len(c) == 1 else pa.binary())
                             for c in cols})  # fmt: skip
        dpos = docs.column("pos").to_numpy()
        order = np.argsort(dpos)
        key = pairs.column(side).to_numpy()
        at = order[np.searchsorted(dpos[order], key)]
        if side == "a":
            code = np.unique(np.stack([pairs.column("a").to_numpy(),
                                       pairs.column("b").to_numpy()], axis=1), axis=0)  # fmt: skip
            key = code[:, 0]
            at = order[np.searchsorted(dpos[order], key)]
            out = pa.table({"a": code[:, 0], "b": code[:, 1]})
        else:
            out = pairs.select(["a", "b", "sig_a", "sh_a"])
        idx = pa.array(at)
        out = out.append_column(f"sig_{side}", docs.column("sig").take(idx))
        return out.append_column(f"sh_{side}", docs.column("sh").take(idx))

    return run


def _verify(threshold: float) -> Callable[[Any], Any]:
    """Verified near-duplicate edges (``SIMILAR``) from joined candidate pairs, by the
    local engine's :func:`curate.dedup.lsh.verify`."""
    import pyarrow as pa

    from curate.dedup.lsh import ShingleStore, verify
    from curate.dedup.resolve import SIMILAR

    def run(t: pa.Table) -> pa.Table:
        m = t.num_rows
        if not m:
            return _edge_table([], [], [], [])
        sig = np.frombuffer(b"".join(t.column("sig_a").to_pylist() + t.column("sig_b").to_pylist()),
                            dtype=np.uint32).reshape(2 * m, -1)  # fmt: skip
        shs = [np.frombuffer(x, dtype=np.uint32)
               for x in t.column("sh_a").to_pylist() + t.column("sh_b").to_pylist()]  # fmt: skip
        flat = np.concatenate(shs) if shs else np.zeros(0, np.uint32)
        store = ShingleStore(flat, np.array([len(x) for x in shs], dtype=np.int64))
        local = np.stack([np.arange(m), np.arange(m, 2 * m)], axis=1).astype(np.int64)
        pairs, sims = verify(local, sig, store, threshold)
        a = t.column("a").to_numpy()[pairs[:, 0]]
        b = t.column("b").to_numpy()[pairs[:, 1] - m]
        return _edge_table(a.tolist(), b.tolist(), [SIMILAR] * len(a), sims.tolist())

    return run


# -- resolution -------------------------------------------------------------------------------


_MEMBER_COLUMNS = ("comp", "edge", "pos", "id", "exact", "n_turns", "answer_chars", "b",
                   "kind", "sim")  # fmt: skip


def _label_members(docs: Any, labels: Any, edges: Any) -> Any:
    """Per node partition: each labelled document's member row, and each edge (keyed by
    its ``a`` end) with the component label, as one table (``edge`` tells them apart)."""
    rows: list[tuple[Any, ...]] = []
    if labels is not None:
        lab = dict(zip(labels.column("node").to_pylist(), labels.column("label").to_pylist(),
                       strict=True))  # fmt: skip
        if docs is not None:
            for d in docs.to_pylist():
                c = lab.get(d["pos"])
                if c is not None:
                    rows.append((c, False, d["pos"], d["id"], d["exact"], d["n_turns"],
                                 d["answer_chars"], None, None, None))  # fmt: skip
        if edges is not None:
            for e in edges.to_pylist():
                rows.append((lab[e["a"]], True, e["a"], None, None, None, None, e["b"],
                             e["kind"], e["sim"]))  # fmt: skip
    return _member_rows(rows)


def _member_rows(rows: list[tuple[Any, ...]]) -> Any:
    import pyarrow as pa

    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in _MEMBER_COLUMNS]
    types = (pa.int64(), pa.bool_(), pa.int64(), pa.string(), pa.binary(), pa.int64(),
             pa.int64(), pa.int64(), pa.int8(), pa.float64())  # fmt: skip
    return pa.table({n: pa.array(list(c), t)
                     for n, c, t in zip(_MEMBER_COLUMNS, cols, types, strict=True)})  # fmt: skip


def _resolve(keep: str) -> Callable[[Any], Any]:
    """Decide every component of one partition with
    :func:`curate.dedup.resolve.resolve_component`; rows for removed members (``kind``
    0) and one per cluster (``kind`` 1, at its representative's position)."""
    import pyarrow as pa

    from curate.dedup.resolve import KEPT, Edge, MemberInfo, resolve_component
    from curate.engine.ray import runs

    def run(t: pa.Table) -> pa.Table:
        comp = t.column("comp").to_numpy()
        is_edge = t.column("edge").to_numpy(zero_copy_only=False)
        rows = t.to_pylist()
        order, bounds = runs(comp)
        out: dict[str, list[Any]] = {k: [] for k in ("pos", "row", "blob")}
        for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            members = []
            edges = []
            info: dict[int, dict[str, Any]] = {}
            for r in order[s:e].tolist():
                row = rows[r]
                if is_edge[r]:
                    if row["kind"] >= 0:
                        edges.append(Edge(row["pos"], row["b"], row["kind"], row["sim"]))
                elif row["pos"] not in info:
                    info[row["pos"]] = row
                    members.append(MemberInfo(row["pos"], row["pos"], row["exact"],
                                              row["n_turns"], row["answer_chars"]))  # fmt: skip
            clusters: dict[int, list[Any]] = {}
            for a in resolve_component(members, edges, keep):
                if a.status == KEPT:
                    continue
                rep_sim = a.rep_similarity
                dec = (a.doc, info[a.doc]["id"], a.status, a.duplicate_of,
                       info[a.duplicate_of]["id"], a.rep, info[a.rep]["id"], a.similarity,
                       float("nan") if rep_sim is None else rep_sim)  # fmt: skip
                out["pos"].append(a.doc)
                out["row"].append(0)
                out["blob"].append(pickle.dumps(dec))
                clusters.setdefault(a.rep, []).append(dec)
            for rep, decs in clusters.items():
                decs.sort()
                out["pos"].append(rep)
                out["row"].append(1)
                out["blob"].append(pickle.dumps((rep, info[rep]["id"], decs)))
        return pa.table({"pos": pa.array(out["pos"], pa.int64()),
                         "row": pa.array(out["row"], pa.int8()),
                         "blob": pa.array(out["blob"], pa.binary())})  # fmt: skip

    return run


def _conflicts(docs: Any, removed: Any) -> Any:
    """Per prompt partition: the kept documents' ``(prompt, answer)`` (documents in
    ``removed`` are left out)."""
    import pyarrow as pa

    gone = set(removed.column("pos").to_pylist()) if removed is not None else set()
    if docs is None:
        return pa.table({"prompt": pa.array([], pa.binary()), "answer": pa.array([], pa.binary())})
    keep = [p not in gone for p in docs.column("pos").to_pylist()]
    return docs.filter(pa.array(keep, pa.bool_())).select(["prompt", "answer"])


def _count_conflicts(t: Any) -> Any:
    """Prompts (not the empty one) shared by kept documents with more than one answer."""
    import pyarrow as pa

    from curate.dedup.text import turn_digest

    empty = np.array([turn_digest([])], dtype="S16")[0].tobytes()
    answers: dict[bytes, set[bytes]] = {}
    for p, a in zip(t.column("prompt").to_pylist(), t.column("answer").to_pylist(), strict=True):
        answers.setdefault(p, set()).add(a)
    n = sum(1 for p, s in answers.items() if len(s) > 1 and p != empty)
    # a prompt whose copies all carry one answer but appear twice is no conflict
    return pa.table({"n": [n]})


def dedup_ray(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Any:
    """:func:`curate.dedup.run.dedup_paths` on the Ray engine: the same arguments (bound
    against its signature, so an option added there is taken here too), outputs and
    summary, ``against`` (decontamination) and ``dedup=False`` (decontaminate only)
    included; ``workers`` is Ray's to decide (the cluster's CPUs)."""
    import dataclasses
    import inspect

    from curate.dedup.core import Params
    from curate.dedup.resolve import CONTAINED, CONTAMINATED, EXACT, NEAR
    from curate.dedup.run import DedupSummary, check_inputs, dedup_paths, plan_outputs
    from curate.io import source_file
    from curate.records import InputError

    bound = inspect.signature(dedup_paths).bind(inputs, output, **options)
    bound.apply_defaults()
    args = bound.arguments
    params = Params(**{f.name: args[f.name] for f in dataclasses.fields(Params)})
    files = [str(p) for p in inputs]
    refs = [str(p) for p in args["against"]]
    if not files:
        raise InputError("no input files given")
    check_inputs(files, refs)
    out_plan, rejects, clusters = plan_outputs([*files, *refs], output, args["rejects"],
                                               args["clusters"])  # fmt: skip
    shown = {f.name for f in dataclasses.fields(DedupSummary)}
    summary = DedupSummary(inputs=files, against=refs,
                           **{k: v for k, v in dataclasses.asdict(params).items()
                              if k in shown})  # fmt: skip
    summary.clusters_file = str(clusters) if clusters is not None else None
    progress = args["progress"]
    # the CLI's bar counts the bytes of the inputs and of the references
    total = sum(os.path.getsize(source_file(p)) for p in [*files, *refs]) if progress else 0
    phase = _Phases(progress, total)
    solved = solve(files, params, phase, against=refs, within=args["dedup"])
    summary.read = solved["n_docs"] + solved["n_bad"]
    summary.removed_invalid = solved["n_bad"]
    summary.reference_read = solved.get("n_ref", 0)
    summary.reference_invalid = solved.get("n_ref_bad", 0)
    if not summary.read:
        raise InputError(
            f"{', '.join(files)}: no examples to deduplicate (empty, or only blank lines)"
        )
    summary.conflicting_answers = solved.get("conflicts", 0)
    writer = _Writer(files, summary, out_plan, refs)
    writer.run(solved.get("decisions"), solved.get("bad"), phase.write if progress else None,
               phase)  # fmt: skip
    phase.finish()
    summary.kept = solved["n_docs"] - sum(writer.removed.values())
    summary.removed_exact = writer.removed.get(EXACT, 0)
    summary.removed_near = writer.removed.get(NEAR, 0)
    summary.removed_contained = writer.removed.get(CONTAINED, 0)
    summary.removed_contaminated = writer.removed.get(CONTAMINATED, 0)
    summary.clusters = writer.n_clusters
    summary.counts().check("dedup")
    summary.largest_cluster, summary.findings = writer.large_clusters()
    summary.output = str(output) if output is not None else None
    summary.rejects = str(rejects) if rejects is not None else None
    return summary


def where_of(files: Sequence[str], pos: int) -> dict[str, Any]:
    """``{file, line}`` of a position."""
    return {"file": files[pos >> LINE_BITS], "line": pos & LINE_MASK}


def _refs(files: Sequence[str], dec: tuple[Any, ...]) -> tuple[Any, Any, Any]:
    """The :class:`curate.dedup.run.Ref` of a removed document's decision, of what it
    duplicates directly and of its cluster's kept representative."""
    from curate.dedup.run import Ref

    pos, id_, _, dpos, did, rpos, rid = dec[:7]
    return (Ref(id_, where_of(files, pos)), Ref(did, where_of(files, dpos)),
            Ref(rid, where_of(files, rpos)))  # fmt: skip


class _Writer:
    """Pass 2 on the driver: the inputs re-read once, in order, beside the removed
    documents' decisions (sorted by position); kept lines verbatim, reject rows and
    cluster rows by the local engine's own writers."""

    def __init__(
        self, files: list[str], summary: Any, out_plan: Any, against: Sequence[str] = ()
    ) -> None:
        self.files = files
        #: every file a position may name: the inputs, then the reference files
        self.names = [*files, *against]
        self.summary = summary
        self.plan = out_plan
        self.removed: dict[int, int] = {}
        self.n_clusters = 0
        #: (size, -k, k, rep id, rep pos) of the largest cluster, and of every cluster
        #: large enough to be reported
        self.best: tuple[int, int, int, str, int] | None = None
        self.big: list[tuple[int, int, str, int]] = []

    def run(
        self,
        decisions: Any,
        bad: Any,
        progress: Callable[[int], None] | None,
        phase: Callable[[str], Any] = lambda name: None,
    ) -> None:
        import json

        from curate.dedup.core import BY_CONTAINMENT, is_large_cluster
        from curate.dedup.resolve import CONTAINED, CONTAMINATED
        from curate.dedup.run import Ref, _fmt, cluster_row, duplicate_reject, unreadable_reject
        from curate.io import BOM, dumps, iter_raw_lines

        files, names = self.files, self.names
        removed = _stream(decisions, row=0)
        bad_pos = _stream_pos(bad)
        with self.plan.writing():
            out = self.plan.open("kept", "wb") if "kept" in self.plan else None
            rej = self.plan.open("rejects") if "rejects" in self.plan else None
            nxt = next(removed, None)
            nbad = next(bad_pos, None)
            for fi, path in enumerate(files):
                for line, raw in iter_raw_lines(path):
                    pos = (fi << LINE_BITS) | line
                    if progress is not None:
                        progress(len(raw) + 1)
                    if pos == nbad:
                        nbad = next(bad_pos, None)
                        if self.summary.first_invalid is None:
                            self.summary.first_invalid = f"{path}:{line}"
                        row = unreadable_reject(path, line, raw) if rej is not None else None
                        if rej is not None and row is not None:
                            rej.write(dumps(row) + "\n")
                        continue
                    if line == 1 and raw.startswith(BOM):
                        raw = raw[len(BOM) :]
                    if not raw.strip():
                        continue
                    if nxt is not None and nxt[0] == pos:
                        self.removed[nxt[2]] = self.removed.get(nxt[2], 0) + 1
                        if rej is not None:
                            status, sim, rep_sim = nxt[2], nxt[7], nxt[8]
                            # a contaminated one says how it matched its reference
                            turns = status == CONTAINED or (
                                status == CONTAMINATED and nxt[9] == BY_CONTAINMENT
                            )
                            row = duplicate_reject(status, sim, rep_sim, *_refs(names, nxt),
                                                   json.loads(raw),
                                                   by_containment=turns)  # fmt: skip
                            rej.write(dumps(row) + "\n")
                        nxt = next(removed, None)
                    elif out is not None:
                        out.write(raw + b"\n")
                phase(f"{path} written")
            if nbad is not None and self.summary.first_invalid is None:
                # the inputs read well: the first unreadable line of the references
                self.summary.first_invalid = _fmt(where_of(names, nbad))
            if nxt is not None:
                raise CurateError(f"{where_of(files, nxt[0])}: changed while deduplicating; rerun.")
            clu = self.plan.open("clusters") if "clusters" in self.plan else None
            for k, (rep, rep_id, decs) in enumerate(_stream(decisions, row=1)):
                self.n_clusters += 1
                size = len(decs) + 1
                if self.best is None or (size, -k) > self.best[:2]:
                    self.best = (size, -k, k, rep_id, rep)
                if is_large_cluster(size, self.summary.read):
                    self.big.append((k, size, rep_id, rep))
                if clu is not None:
                    members = [(_refs(names, d)[0], d[2], d[8], d[4])
                               for d in sorted(decs, key=lambda d: d[0])]  # fmt: skip
                    row = cluster_row(k, Ref(rep_id, where_of(files, rep)), members)
                    clu.write(dumps(row) + "\n")
            phase("clusters written")
            self.plan.commit()

    def large_clusters(self) -> tuple[Any, list[Any]]:
        """:func:`curate.dedup.run.large_clusters` over the clusters counted while writing
        (the driver kept only the largest and the reported ones)."""
        from curate.dedup.run import large_clusters

        if self.best is None:
            return None, []
        keep = {self.best[2]: (self.best[0], self.best[3], self.best[4])}
        keep.update({k: (size, rid, rp) for k, size, rid, rp in self.big})
        cl = _Sizes(self.n_clusters, keep)
        ids = {k: v[1] for k, v in keep.items()}
        pos = {k: v[2] for k, v in keep.items()}
        return large_clusters(cl, ids, lambda k: where_of(self.files, pos[k]),  # type: ignore[arg-type]
                              self.summary)  # fmt: skip


class _Sizes(dict):  # type: ignore[type-arg]
    """``cluster number -> members`` as :func:`curate.dedup.run.large_clusters` reads it
    (only ``len`` of the members), without holding them: clusters not kept have size 2
    (a lower bound; only the largest and the large ones are looked at)."""

    def __init__(self, n: int, keep: dict[int, tuple[int, str, int]]) -> None:
        super().__init__()
        self._n = n
        self._keep = keep

    def __bool__(self) -> bool:
        return self._n > 0

    def items(self) -> Any:  # type: ignore[override]
        for k in range(self._n):
            size = self._keep[k][0] if k in self._keep else 2
            yield k, range(size)


def _stream(decisions: Any, *, row: int) -> Any:
    """The decision rows of one kind, in position order, unpickled."""
    if decisions is None:
        return
    for batch in decisions.iter_batches(batch_format="pyarrow", batch_size=4096):
        kinds = batch.column("row").to_numpy()
        blobs = batch.column("blob").to_pylist()
        for k, b in zip(kinds.tolist(), blobs, strict=True):
            if k == row:
                yield pickle.loads(b)


def _stream_pos(ds: Any) -> Any:
    if ds is None:
        return
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=4096):
        yield from batch.column("pos").to_pylist()


#: the share of the progress bar (the inputs' bytes) each step moves it by, from the
#: steps' wall time at 1M examples (``docs/scale.md``); the features move it as their
#: blocks finish, the write pass by the bytes it re-reads
_SHARES = {"features": 0.35, "key grouping": 0.15, "candidates joined": 0.13,
           "connected components": 0.1, "components resolved": 0.07,
           "conflicting answers": 0.07, "decisions sorted": 0.03}  # fmt: skip
_WRITE_SHARE = 1 - sum(_SHARES.values())


class _Phases:
    """Wall time of each step, printed to stderr when ``CURATE_RAY_TIMING`` is set (what
    ``docs/scale.md`` reports per step), and the progress bar moved by each step's share
    (``progress``: the CLI's bar over ``total`` bytes of input)."""

    def __init__(self, progress: Callable[[int], None] | None = None, total: int = 0) -> None:
        import time

        self.on = bool(os.environ.get("CURATE_RAY_TIMING"))
        self.clock = time.perf_counter
        self.t = self.clock()
        self.progress = progress
        self.total = total
        self.lines = 0  # the inputs' lines (set when the blocks are listed)
        self.done = 0.0  # bytes' worth of the bar given so far
        self.featurised = 0.0  # the features' share given so far

    def share(self, fraction: float) -> None:
        if self.progress is None or fraction <= 0:
            return
        before = int(self.done)
        self.done += self.total * fraction
        if int(self.done) > before:
            self.progress(int(self.done) - before)

    def rows(self, n: int) -> None:
        """``n`` more documents featurised (of about ``lines``)."""
        part = min(_SHARES["features"] * n / max(self.lines, 1),
                   _SHARES["features"] - self.featurised)  # fmt: skip
        self.featurised += part
        self.share(part)

    def write(self, n: int) -> None:
        """``n`` more bytes re-read by the write pass."""
        self.share(_WRITE_SHARE * n / max(self.total, 1))

    def finish(self) -> None:
        """The bar full: what the shares' rounding left."""
        if self.progress is not None and self.total > int(self.done):
            self.progress(self.total - int(self.done))
            self.done = float(self.total)

    def __call__(self, name: str, ds: Any = None) -> Any:
        from curate.engine.ray import materialize

        step = next((k for k in _SHARES if name.startswith(k)), None)
        if ds is not None:
            watch = step == "features" and self.progress is not None
            ds = materialize(ds, self.rows if watch else None)
        if step == "features":  # the rest of its share (blank lines have no row)
            self.share(_SHARES[step] - self.featurised)
        elif step is not None:
            self.share(_SHARES[step])
        if self.on:
            import sys

            now = self.clock()
            rows = f" ({ds.count():,} rows)" if ds is not None else ""
            mem = {}
            with open("/proc/self/status") as f:  # the driver's resident memory now
                for line in f:
                    if line.startswith(("VmRSS:", "RssAnon:")):
                        mem[line.split(":")[0]] = int(line.split()[1]) >> 10
            print(f"ray dedup: {name}{rows}: {now - self.t:.1f} s, driver {mem['VmRSS']} MiB "
                  f"({mem['RssAnon']} MiB private)", file=sys.stderr)  # fmt: skip
            self.t = now
        return ds


_DOC_COLUMNS = ("pos", "id", "exact", "prompt", "answer", "n_turns", "answer_chars", "sig", "sh",
                "sh_len", "ex1", "ex2", "conv_k", "windows_k")  # fmt: skip


def _tally(n_train: int) -> Callable[[Any], Any]:
    """Per batch of features: documents and unreadable lines, of the training files and
    of the reference files."""
    import pyarrow as pa

    def run(t: pa.Table) -> pa.Table:
        ref = (t.column("pos").to_numpy() >> LINE_BITS) >= n_train
        bad = t.column("bad").to_numpy(zero_copy_only=False)
        return pa.table({k: [int(v.sum())] for k, v in (
            ("n_docs", ~ref & ~bad), ("n_bad", ~ref & bad),
            ("n_ref", ref & ~bad), ("n_ref_bad", ref & bad))})  # fmt: skip

    return run


def solve(
    files: Sequence[str],
    params: Any,
    phase: _Phases | None = None,
    *,
    against: Sequence[str] = (),
    within: bool = True,
) -> dict[str, Any]:
    """The distributed half: features, edges, contamination (``against``: reference
    files, :mod:`curate.engine.ray_against`), components, resolution (not without
    ``within``: decontaminate only). Returns the datasets the writer streams
    (``decisions``: removed documents' and clusters' rows; ``bad``: unreadable lines,
    references' too) and the counts."""
    import pyarrow as pa
    import ray.data as rd

    from curate.dedup.lsh import lsh_params
    from curate.engine.ray import _coalesce, by_key, cogroup, connected_components, n_parts

    def cols(*names: str) -> Callable[[pa.Table], pa.Table]:
        return lambda t: t.select(list(names))

    phase = phase or _Phases()
    n_train = len(files)
    blocks = block_rows([*files, *against])
    phase.lines = sum(blocks.column("n_newlines").to_pylist()) + blocks.num_rows
    phase(f"{blocks.num_rows} blocks listed")
    if not blocks.num_rows:
        return {"n_docs": 0, "n_bad": 0}
    ds = rd.from_arrow(blocks).repartition(blocks.num_rows)
    feats = phase("features", ds.map_batches(_featurize_blocks(params), batch_format="pyarrow",
                                             batch_size=1))  # fmt: skip
    bad = feats.map_batches(_select(["pos"], bad=True), batch_format="pyarrow").materialize()
    # the documents: a filter over the materialised features each time they are read (a
    # second materialised copy would double the object store's largest dataset)
    docs = feats.map_batches(_select(list(_DOC_COLUMNS)), batch_format="pyarrow")
    counts = {"n_docs": 0, "n_bad": 0, "n_ref": 0, "n_ref_bad": 0}
    for r in feats.map_batches(_tally(n_train), batch_format="pyarrow").take_all():
        for k in counts:
            counts[k] += r[k]
    n_docs, n_ref = counts["n_docs"], counts["n_ref"]
    # the unreadable lines' positions (8 bytes each) joined into one block before the
    # sort: sorting the features' many blocks (one per input block) would make the
    # driver track blocks x blocks pieces (1,500 blocks at 5M examples: 2.25M pieces)
    n_bad_all = counts["n_bad"] + counts["n_ref_bad"]
    out: dict[str, Any] = {
        **counts, "bad": _coalesce(bad, 1, n_bad_all).sort("pos") if n_bad_all else None
    }  # fmt: skip
    if not n_docs:  # nothing to compare: only unreadable lines, if any
        return out
    train_docs = docs
    if against:
        from curate.engine import ray_against

        mine = ray_against.side(n_train, ref=False, columns=list(_DOC_COLUMNS))
        train_docs = docs.map_batches(mine, batch_format="pyarrow")
    parts = n_parts((n_docs + n_ref) * 4)
    decisions = None
    if within or (against and n_ref):
        bands, rows = lsh_params(params.threshold, params.num_perm) if params.near else (0, 0)
        keys = docs.map_batches(_key_rows(params, bands, rows, references=bool(against)),
                                batch_format="pyarrow")  # fmt: skip
        group = _edges_of_keys
        if against:
            group = functools.partial(_edges_of_keys, n_train=n_train, within=within,
                                      contains=params.containment)  # fmt: skip
        # about: one exact key, a key per band, two containment keys a document
        raw = phase("key grouping: copies, candidates, containment",
                    by_key(keys, "k1", group, parts, (n_docs + n_ref) * (bands + 3)))  # fmt: skip

        def kinds(want: Callable[[np.ndarray], np.ndarray]) -> Callable[[pa.Table], pa.Table]:
            def run(t: pa.Table) -> pa.Table:
                return t.filter(pa.array(want(t.column("kind").to_numpy())))

            return run

        edges = raw.map_batches(kinds(lambda k: k != CANDIDATE), batch_format="pyarrow")
        if params.near:
            cand = raw.map_batches(kinds(lambda k: k == CANDIDATE), batch_format="pyarrow")
            sig_docs = docs.map_batches(cols("pos", "sig", "sh"), batch_format="pyarrow")
            n_sig = n_docs + n_ref
            with_a = cogroup([(cand, "a"), (sig_docs, "pos", n_sig)], _attach("a"), parts)
            b_docs, n_b = sig_docs, n_sig
            if not within:  # every pair is (training, reference): b is a reference
                only = ray_against.side(n_train, ref=True, columns=["pos", "sig", "sh"])
                b_docs, n_b = docs.map_batches(only, batch_format="pyarrow"), n_ref
            both = cogroup([(with_a, "b"), (b_docs, "pos", n_b)], _attach("b"), parts)
            similar = both.map_batches(_verify(params.threshold), batch_format="pyarrow")
            edges = edges.union(similar)
        edges = phase("candidates joined and verified", edges)
        if against:
            edges, contaminated = ray_against.decontaminate(edges, n_train, parts, graph=within,
                                                            phase=phase)  # fmt: skip
            contaminated = phase("contamination decided", contaminated)
            decisions = ray_against.named(contaminated, docs, n_train, (n_docs, n_ref), parts)
            if decisions is not None:  # read twice below: joined once
                decisions = phase("contaminated documents named", decisions)
        if within:
            uv = edges.map_batches(lambda t: pa.table({"u": t.column("a"), "v": t.column("b")}),
                                   batch_format="pyarrow")  # fmt: skip
            labels = phase("connected components", connected_components(uv, parts))
            member = cols("pos", "id", "exact", "n_turns", "answer_chars")
            member_docs = train_docs.map_batches(member, batch_format="pyarrow")
            members = cogroup([(member_docs, "pos", n_docs), (labels, "node"), (edges, "a")],
                              _label_members, parts)  # fmt: skip
            resolved = phase("components resolved",
                             by_key(members, "comp", _resolve(params.keep), parts))  # fmt: skip
            decisions = resolved if decisions is None else resolved.union(decisions)
    prompts = train_docs.map_batches(cols("pos", "prompt", "answer"), batch_format="pyarrow")
    if decisions is not None:
        removed = decisions.map_batches(
            lambda t: t.filter(pa.array(t.column("row").to_numpy() == 0)).select(["pos"]),
            batch_format="pyarrow",
        )
        kept = cogroup([(prompts, "pos", n_docs), (removed, "pos")], _conflicts, parts)
    else:
        kept = prompts.map_batches(cols("prompt", "answer"), batch_format="pyarrow")
    n_conf = sum(r["n"] for r in by_key(kept, "prompt", _count_conflicts, parts,
                                        n_docs).take_all())  # fmt: skip
    phase("conflicting answers counted")
    out["conflicts"] = n_conf
    if decisions is not None:
        out["decisions"] = phase("decisions sorted", decisions.sort("pos"))
    return out


__all__ = ["CurateError", "block_rows", "dedup_ray", "solve"]
