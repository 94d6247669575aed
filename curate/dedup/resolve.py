"""Which copy of a duplicate cluster is kept: one pure function over one component.

Deduplication runs in three steps, and only the middle one depends on the engine:

1. *edges*: every pair of training documents that are exact duplicates (equal
   normalised text), near duplicates (verified Jaccard >= threshold) or where one
   conversation's turns are a contiguous run of the other's (containment, directed);
2. *components*: the connected components of that graph (locally a union-find; on a
   cluster a distributed connected-components step);
3. *resolution*: :func:`resolve_component`, called once per component with that
   component's members and edges, decides every member. It is pure and deterministic:
   the same members and edges give the same answer whatever order they are passed in,
   in whichever process, so every engine that finds the same edges removes the same
   documents and attributes them to the same kept ones.

The rules (``docs/dedup.md`` explains them to users):

- **Exact copies** (equal ``key``) are one node; the copy that ranks first under the keep
  rule stands for the node (copies tie on content, so it is the first in input order).
- **Containment is directed**: a node whose turns are contained in another node's is
  removed (``CONTAINED``) and attributed to a container, whatever their input order; a
  containment edge never makes two containers one cluster, and never removes the
  container.
- **Near duplicates never chain** (greedy star clustering): the nodes that are not
  contained are visited in keep-rule order; an unassigned node becomes a representative
  (``KEPT``) and takes every unassigned, not contained neighbour as ``NEAR``. So every
  near duplicate is at or above the threshold against the representative it is
  attributed to; two near duplicates of each other may both be kept when each is only
  connected through the other.
- **The keep rule** (``keep``): ``"longest"`` (the default) ranks by more non-system
  turns, then more characters of (normalised) assistant text, then input order;
  ``"first"`` ranks by input order only (the behaviour before containment was
  directed).

Example (the prefix chain ``[q0 a0] ⊂ [q0 a0 q1 a1]``, given in file order):
    >>> ms = [MemberInfo(0, 0, b"k0", 2, 10), MemberInfo(1, 1, b"k1", 4, 25)]
    >>> [(a.doc, STATUS_NAMES[a.status], a.rep) for a in
    ...  resolve_component(ms, [Edge(0, 1, CONTAINS, 0.5)])]
    [(0, 'contained_duplicate', 1), (1, 'kept', 1)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

KEPT, EXACT, NEAR, CONTAMINATED, CONTAINED = 0, 1, 2, 3, 4
STATUS_NAMES = ("kept", "exact_duplicate", "near_duplicate", "contaminated", "contained_duplicate")
#: edge kinds
SAME, SIMILAR, CONTAINS = 0, 1, 2
EDGE_NAMES = ("exact", "near", "contains")
KEEP_RULES = ("longest", "first")


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One training document of a component.

    Args:
        doc: the engine's id for the document (returned in :class:`Assignment`); any
            int, unique in the component.
        order: the document's input position as an int that sorts like ``(input file
            index, line number)`` (the local engine uses its running document index; a
            distributed one may use ``file_index << 40 | line``). Unique. Only its order
            matters: it breaks keep-rule ties and must not depend on batch or process
            order.
        key: the exact-duplicate key (``Features.exact``): equal keys are exact copies.
        n_turns: non-system turns of the record (``Features.n_turns``).
        answer_chars: characters of its normalised assistant text
            (``Features.answer_chars``).
    """

    doc: int
    order: int
    key: bytes
    n_turns: int
    answer_chars: int


@dataclass(frozen=True, slots=True)
class Edge:
    """A link between two members of a component.

    ``kind`` is ``SAME`` (exact copies: optional, equal keys already say it; it may
    serve the components step), ``SIMILAR`` (undirected near duplicate; ``similarity``
    is the Jaccard, >= the threshold) or ``CONTAINS`` (directed: ``a``'s non-system
    turns are a contiguous run of ``b``'s, so ``a`` has fewer; ``similarity`` is
    ``a.n_turns / b.n_turns``). Edges between copies of the same nodes may repeat; the
    highest similarity counts.
    """

    a: int
    b: int
    kind: int
    similarity: float


@dataclass(frozen=True, slots=True)
class Assignment:
    """The decision for one member.

    Args:
        doc: the member's ``doc``.
        status: ``KEPT``, ``EXACT``, ``NEAR`` or ``CONTAINED``.
        duplicate_of: the member it directly duplicates: the representative for
            ``NEAR``, the copy standing for the node for ``EXACT``, the container for
            ``CONTAINED``; ``-1`` when kept.
        rep: the kept member it is attributed to (its cluster); itself when kept.
        similarity: to ``duplicate_of`` (1.0 for exact copies and kept members; the turn
            share of the container for ``CONTAINED``).
        rep_similarity: to ``rep`` (the Jaccard for near duplicates and for exact copies
            of one, 1.0 for copies of a kept one, the turn share for a contained member
            whose container is kept); ``None`` when not known (a contained member whose
            containers were all removed as near duplicates of another).
    """

    doc: int
    status: int
    duplicate_of: int
    rep: int
    similarity: float
    rep_similarity: float | None


def rank_key(keep: str) -> Callable[[MemberInfo], tuple[int, ...]]:
    """The sort key of the keep rule: the member that sorts first is kept.

    Example:
        >>> a, b = MemberInfo(0, 0, b"a", 2, 50), MemberInfo(1, 1, b"b", 4, 10)
        >>> [sorted([a, b], key=rank_key(rule))[0].doc for rule in ("longest", "first")]
        [1, 0]
    """
    if keep == "longest":
        return lambda m: (-m.n_turns, -m.answer_chars, m.order)
    if keep == "first":
        return lambda m: (m.order,)
    raise ValueError(f"unknown keep rule {keep!r}: use one of {', '.join(KEEP_RULES)}")


def resolve_component(
    members: Sequence[MemberInfo], edges: Sequence[Edge], keep: str = "longest"
) -> list[Assignment]:
    """Decide every member of one connected component (see the module docstring for the
    rules). Pure and deterministic: the result depends on the members' fields and the
    edges only, not on the order of either list.

    Args:
        members: every training document of the component (exact copies included;
            documents removed as contaminated are not members).
        edges: the component's edges (their ends must be members).
        keep: ``"longest"`` or ``"first"`` (see :func:`rank_key`).

    Returns:
        One :class:`Assignment` per member, in the order of ``members``.

    Raises:
        ValueError: an unknown ``keep``, an edge to a non-member, a ``SAME`` edge between
            different keys, or a ``CONTAINS`` edge whose container has no more turns.

    Example (chained near duplicates ``0 ~ 1 ~ 2``, ``0`` and ``2`` far apart: the
    middle one is kept, as it ranks first; with ``keep="first"`` both ends are kept):
        >>> ms = [MemberInfo(i, i, bytes([i]), 2, c) for i, c in enumerate((40, 50, 40))]
        >>> es = [Edge(0, 1, SIMILAR, 0.85), Edge(1, 2, SIMILAR, 0.82)]
        >>> [STATUS_NAMES[a.status] for a in resolve_component(ms, es)]
        ['near_duplicate', 'kept', 'near_duplicate']
        >>> [STATUS_NAMES[a.status] for a in resolve_component(ms, es, keep="first")]
        ['kept', 'near_duplicate', 'kept']
    """
    rank = rank_key(keep)
    by_doc = {m.doc: m for m in members}
    if len(by_doc) != len(members):
        raise ValueError("members must have distinct doc ids")
    # exact copies are one node, stood for by the copy that ranks first
    copies: dict[bytes, list[MemberInfo]] = {}
    for m in members:
        copies.setdefault(m.key, []).append(m)
    head_of: dict[int, MemberInfo] = {}
    heads: list[MemberInfo] = []
    for group in copies.values():
        group.sort(key=rank)
        heads.append(group[0])
        for m in group:
            head_of[m.doc] = group[0]

    near: dict[int, dict[int, float]] = {}
    containers: dict[int, dict[int, float]] = {}
    for e in edges:
        if e.a not in by_doc or e.b not in by_doc:
            raise ValueError(f"edge ({e.a}, {e.b}) has an end that is not a member")
        a, b = head_of[e.a], head_of[e.b]
        if e.kind == SAME:
            if a.doc != b.doc:
                raise ValueError(f"exact edge ({e.a}, {e.b}) joins members of different keys")
            continue
        if a.doc == b.doc:
            continue
        if e.kind == SIMILAR:
            for x, y in ((a.doc, b.doc), (b.doc, a.doc)):
                row = near.setdefault(x, {})
                row[y] = max(row.get(y, 0.0), e.similarity)
        elif e.kind == CONTAINS:
            if b.n_turns <= a.n_turns:
                raise ValueError(
                    f"containment edge ({e.a}, {e.b}): the container has {b.n_turns} turns, "
                    f"not more than {a.n_turns}"
                )
            row = containers.setdefault(a.doc, {})
            row[b.doc] = max(row.get(b.doc, 0.0), e.similarity)
        else:
            raise ValueError(f"unknown edge kind {e.kind!r}")

    heads.sort(key=rank)
    # node decisions: status, duplicate_of, rep, similarity, rep_similarity
    decided: dict[int, tuple[int, int, int, float, float | None]] = {}
    for h in heads:  # star clustering over the nodes that are not contained
        if h.doc in containers or h.doc in decided:
            continue
        decided[h.doc] = (KEPT, -1, h.doc, 1.0, 1.0)
        for v in sorted(near.get(h.doc, {}), key=lambda d: rank(by_doc[d])):
            if v not in containers and v not in decided:
                s = near[h.doc][v]
                decided[v] = (NEAR, h.doc, h.doc, s, s)
    # contained nodes, containers first (a container has more turns), each attributed to
    # a kept container when there is one, else to the closest; then the one ranking first
    contained = sorted((by_doc[d] for d in containers), key=lambda m: (-m.n_turns, *rank(m)))
    for m in contained:
        row = containers[m.doc]

        def pref(c: int, row: dict[int, float] = row) -> tuple[object, ...]:
            return (decided[c][0] != KEPT, -row[c], *rank(by_doc[c]))

        c = min(row, key=pref)
        st, _, c_rep, _, _ = decided[c]
        if st == KEPT:
            decided[m.doc] = (CONTAINED, c, c, row[c], row[c])
        else:
            decided[m.doc] = (CONTAINED, c, c_rep, row[c], None)

    out: list[Assignment] = []
    for m in members:
        h = head_of[m.doc]
        st, dup, rep, sim, rep_sim = decided[h.doc]
        if m.doc == h.doc:
            out.append(Assignment(m.doc, st, dup, rep, sim, rep_sim))
        else:  # a later copy: removed as an exact duplicate of the copy standing for it
            out.append(Assignment(m.doc, EXACT, h.doc, rep, 1.0, rep_sim))
    return out


__all__ = [
    "CONTAINED",
    "CONTAINS",
    "CONTAMINATED",
    "EDGE_NAMES",
    "EXACT",
    "KEEP_RULES",
    "KEPT",
    "NEAR",
    "SAME",
    "SIMILAR",
    "STATUS_NAMES",
    "Assignment",
    "Edge",
    "MemberInfo",
    "rank_key",
    "resolve_component",
]
