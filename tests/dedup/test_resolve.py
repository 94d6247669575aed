"""resolve_component: the rules of which copy is kept, on hand-made components."""

from __future__ import annotations

import random

import pytest

from curate.dedup.resolve import (
    CONTAINED,
    CONTAINS,
    EXACT,
    KEPT,
    NEAR,
    SAME,
    SIMILAR,
    Edge,
    MemberInfo,
    resolve_component,
)


def m(doc: int, turns: int = 2, chars: int = 10, key: bytes | None = None) -> MemberInfo:
    return MemberInfo(doc, doc, key if key is not None else bytes([doc]), turns, chars)


def decide(members: list[MemberInfo], edges: list[Edge], keep: str = "longest") -> dict:
    return {
        a.doc: (a.status, a.duplicate_of, a.rep, a.similarity, a.rep_similarity)
        for a in resolve_component(members, edges, keep)
    }


def test_containment_removes_the_contained_whatever_the_order() -> None:
    # the example: [q0 a0] is line 1, [q0 a0 q1 a1] line 2
    for short, long in ((0, 1), (1, 0)):
        got = decide([m(short, 2), m(long, 4)], [Edge(short, long, CONTAINS, 0.5)])
        assert got[short] == (CONTAINED, long, long, 0.5, 0.5)
        assert got[long][0] == KEPT
        # with --keep first too: containment is not about the order
        got = decide([m(short, 2), m(long, 4)], [Edge(short, long, CONTAINS, 0.5)], "first")
        assert got[short][0] == CONTAINED and got[long][0] == KEPT


def test_prefix_chain_keeps_the_longest_only() -> None:
    # [q0 a0] < [q0 a0 q1 a1] < [q0 a0 q1 a1 q2 a2], every containment pair an edge
    ms = [m(0, 2), m(1, 4), m(2, 6)]
    es = [Edge(0, 1, CONTAINS, 0.5), Edge(1, 2, CONTAINS, 4 / 6), Edge(0, 2, CONTAINS, 1 / 3)]
    got = decide(ms, es)
    assert got[2][0] == KEPT
    # both attributed to the kept container, even where a closer one exists
    assert got[1] == (CONTAINED, 2, 2, pytest.approx(4 / 6), pytest.approx(4 / 6))
    assert got[0] == (CONTAINED, 2, 2, pytest.approx(1 / 3), pytest.approx(1 / 3))


def test_containment_never_joins_two_containers() -> None:
    # a greeting [hi hello] contained in three conversations that share nothing else
    ms = [m(0, 2), m(1, 4, 30), m(2, 6, 10), m(3, 4, 50)]
    es = [Edge(0, c, CONTAINS, 2 / ms[c].n_turns) for c in (1, 2, 3)]
    got = decide(ms, es)
    assert [got[d][0] for d in (1, 2, 3)] == [KEPT, KEPT, KEPT]
    # the closest container (highest turn share), then the keep rule: 3 (4 turns, 50 chars)
    assert got[0][:3] == (CONTAINED, 3, 3)


def test_near_duplicates_never_chain() -> None:
    # 0 ~ 1 ~ 2 ~ 3, no other pairs: a chain, not a cluster
    ms = [m(i, 2, 40) for i in range(4)]
    es = [Edge(0, 1, SIMILAR, 0.9), Edge(1, 2, SIMILAR, 0.85), Edge(2, 3, SIMILAR, 0.81)]
    got = decide(ms, es, "first")
    assert got[0][0] == KEPT and got[1] == (NEAR, 0, 0, 0.9, 0.9)
    assert got[2][0] == KEPT and got[3] == (NEAR, 2, 2, 0.81, 0.81)
    # every removed member is linked by an edge to the kept member it is attributed to
    linked = {(e.a, e.b) for e in es} | {(e.b, e.a) for e in es}
    for doc, (st, _, rep, sim, _) in decide(ms, es).items():
        assert st == KEPT or ((doc, rep) in linked and sim >= 0.8)


def test_keep_rule_prefers_turns_then_answer_length_then_order() -> None:
    es = [Edge(0, 1, SIMILAR, 0.9), Edge(1, 2, SIMILAR, 0.9), Edge(0, 2, SIMILAR, 0.9)]
    assert decide([m(0, 2, 10), m(1, 4, 5), m(2, 2, 90)], es)[1][0] == KEPT  # more turns
    assert decide([m(0, 2, 10), m(1, 2, 5), m(2, 2, 90)], es)[2][0] == KEPT  # longer answer
    assert decide([m(0, 2, 10), m(1, 2, 10), m(2, 2, 10)], es)[0][0] == KEPT  # first
    assert decide([m(0, 2, 10), m(1, 4, 5), m(2, 2, 90)], es, "first")[0][0] == KEPT


def test_exact_copies_are_one_node() -> None:
    # 0 and 2 are copies (same key); 1 is a near duplicate of 2 only (the edge may name
    # any copy); 3 is a copy of 1
    ms = [m(0, 2, 10, b"a"), m(1, 2, 60, b"b"), m(2, 2, 10, b"a"), m(3, 2, 60, b"b")]
    es = [Edge(2, 1, SIMILAR, 0.88), Edge(0, 2, SAME, 1.0), Edge(1, 3, SAME, 1.0)]
    got = decide(ms, es)
    assert got[1][0] == KEPT  # longer answer
    assert got[3] == (EXACT, 1, 1, 1.0, 1.0)
    assert got[0] == (NEAR, 1, 1, 0.88, 0.88)
    assert got[2] == (EXACT, 0, 1, 1.0, 0.88)  # similarity to the kept one: its copy's


def test_contained_in_a_removed_container() -> None:
    # 0 < 1 (contained), 1 ~ 2 (near, 2 ranks first): 1 is removed, so is 0 (its turns
    # are in 1, which is nearly 2), attributed to 1 with 2 as its cluster's representative
    ms = [m(0, 2), m(1, 4, 10), m(2, 4, 20)]
    got = decide(ms, [Edge(0, 1, CONTAINS, 0.5), Edge(1, 2, SIMILAR, 0.9)])
    assert got[2][0] == KEPT and got[1] == (NEAR, 2, 2, 0.9, 0.9)
    assert got[0] == (CONTAINED, 1, 2, 0.5, None)


def test_result_does_not_depend_on_the_order_of_members_or_edges() -> None:
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 9)
        # exact copies (equal keys) share their content, so their turns and characters
        content = {k: (rng.choice((2, 4, 6)), rng.randint(1, 3)) for k in range(n + 1)}
        keys = [rng.randint(0, n) for _ in range(n)]
        ms = [m(i, *content[k], bytes([k])) for i, k in enumerate(keys)]
        es = []
        for _ in range(rng.randint(1, 12)):
            a, b = rng.sample(range(n), 2)
            if ms[a].key == ms[b].key:
                es.append(Edge(a, b, SAME, 1.0))
            elif ms[a].n_turns < ms[b].n_turns and rng.random() < 0.4:
                es.append(Edge(a, b, CONTAINS, ms[a].n_turns / ms[b].n_turns))
            else:
                es.append(Edge(a, b, SIMILAR, rng.choice((0.8, 0.9, 1.0))))
        want = decide(ms, es)
        ms2, es2 = ms[:], es[:]
        rng.shuffle(ms2)
        rng.shuffle(es2)
        assert decide(ms2, es2) == want
        # the star rule: a near duplicate is linked to the kept one it is attributed to
        near = {(e.a, e.b) for e in es if e.kind == SIMILAR}
        key = {x.doc: x.key for x in ms}
        for doc, (st, dup, rep, _, _) in want.items():
            if st == NEAR:
                assert want[rep][0] == KEPT and dup == rep
                assert any({key[a], key[b]} == {key[doc], key[rep]} for a, b in near)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown keep rule 'last'"):
        resolve_component([m(0)], [], "last")
    with pytest.raises(ValueError, match="not a member"):
        resolve_component([m(0)], [Edge(0, 5, SIMILAR, 0.9)])
    with pytest.raises(ValueError, match="container has 2 turns"):
        resolve_component([m(0, 2), m(1, 2)], [Edge(0, 1, CONTAINS, 1.0)])
    with pytest.raises(ValueError, match="different keys"):
        resolve_component([m(0), m(1)], [Edge(0, 1, SAME, 1.0)])
