from __future__ import annotations

import json

import numpy as np
import pytest

from curate.dedup import cluster_keys
from curate.dedup.core import (
    BY_CONTAINMENT,
    CONTAINED,
    CONTAMINATED,
    EXACT,
    KEPT,
    NEAR,
    DuplicateIndex,
    Params,
    featurize,
)
from curate.records import Example, Location
from tests.conftest import FIXTURES

LONG = (
    "Recycling reduces the amount of waste sent to landfills and incinerators, conserves "
    "natural resources such as timber water and minerals, prevents pollution by reducing "
    "the need to collect new raw materials, saves energy, and helps create jobs in the "
    "recycling and manufacturing industries of every country that takes part in it."
)


def chat(*turns: tuple[str, str]) -> dict:
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


def qa(q: str, a: str) -> dict:
    return chat(("user", q), ("assistant", a))


def solve(records: list, refs: list | None = None, **kw: object):  # type: ignore[no-untyped-def]
    idx = DuplicateIndex(Params(**kw))  # type: ignore[arg-type]
    idx.add(featurize(records, idx.params))
    if refs:
        idx.add(featurize(refs, idx.params), reference=True)
    return idx.solve()


def test_exact_and_near_keep_the_first() -> None:
    edited = LONG.replace("timber", "wood")
    plan = solve([qa("Why recycle?", LONG), qa("why  RECYCLE?", LONG), qa("Why recycle?", edited)])
    assert plan.status.tolist() == [KEPT, EXACT, NEAR]
    assert plan.dup_of.tolist() == [-1, 0, 0]
    assert plan.rep.tolist() == [0, 0, 0]
    assert plan.similarity[1] == 1.0
    assert 0.8 <= plan.similarity[2] < 1.0
    assert plan.clusters() == {0: [0, 1, 2]}
    assert plan.counts() == {"kept": 1, "removed_exact": 1, "removed_near": 1,
                             "removed_contained": 0, "removed_contaminated": 0}  # fmt: skip


def test_threshold_decides_near() -> None:
    words = LONG.split()
    half = " ".join(words[: len(words) // 2] + ["other"] * (len(words) // 2))
    recs = [qa("q", LONG), qa("q", half)]
    assert solve(recs).status.tolist() == [KEPT, KEPT]
    assert solve(recs, threshold=0.2).status.tolist() == [KEPT, NEAR]


def test_scope_user_and_assistant() -> None:
    recs = [qa("Summarise the text about recycling", LONG), qa("Summarise the text about recycling",
            "Short and different answer.")]  # fmt: skip
    assert solve(recs).status.tolist() == [KEPT, KEPT]
    assert solve(recs, scope="user").status.tolist() == [KEPT, EXACT]
    assert solve(recs, scope="assistant").status.tolist() == [KEPT, KEPT]
    assert solve(recs).conflicts == [[0, 1]]


def test_containment_of_turns() -> None:
    long_conv = chat(("user", "Who are you?"), ("assistant", "I am Vicuna."),
                     ("user", "Have a nice day!"), ("assistant", "You too!"))  # fmt: skip
    middle = chat(("assistant", "I am Vicuna."), ("user", "Have a nice day!"))
    tail = chat(("system", "Be kind."), ("user", "Have a nice day!"), ("assistant", "You too!"))
    plan = solve([long_conv, tail, middle, qa("Who are you?", "A bot.")])
    assert plan.status.tolist() == [KEPT, CONTAINED, CONTAINED, KEPT]
    assert plan.how[1] == BY_CONTAINMENT and plan.dup_of[1] == 0
    assert plan.similarity[1] == 0.5
    # directed: the container is kept whatever the order
    plan = solve([tail, middle, long_conv])
    assert plan.status.tolist() == [CONTAINED, CONTAINED, KEPT]
    assert plan.dup_of.tolist() == [2, 2, -1] and plan.rep.tolist() == [2, 2, 2]
    assert plan.clusters() == {2: [2, 0, 1]}
    # containment is a conversation-scope rule; other scopes and --no-containment skip it
    assert solve([long_conv, tail], scope="user").status.tolist() == [KEPT, KEPT]
    assert solve([tail, long_conv], containment=False).status.tolist() == [KEPT, KEPT]


def turns(*names: str) -> dict:
    """A conversation of the named turns: q1 is a user turn, a1 its answer."""
    text = {
        "q0": "Hi there, can you help me with some cooking questions today?",
        "a0": "Of course! Ask me anything about cooking and I will do my best.",
        "q1": "How long should I boil an egg for a soft yolk?",
        "a1": "About six minutes in boiling water, then cool it under cold water.",
        "q2": "And how do I keep pasta from sticking together?",
        "a2": "Use plenty of water, stir in the first minutes and do not add oil.",
        "q3": "What temperature should I bake bread at?",
        "a3": "Most loaves bake well at 220 degrees Celsius for 30 to 40 minutes.",
    }
    return chat(*(("user" if n[0] == "q" else "assistant", text[n]) for n in names))


def test_the_issues_tiny_example() -> None:
    recs = [turns("q0", "a0"), turns("q0", "a0", "q1", "a1"), turns("q1", "a1", "q2", "a2"),
            turns("q2", "a2", "q3", "a3"), turns("q3", "a3")]  # fmt: skip
    plan = solve(recs)
    assert plan.status.tolist() == [CONTAINED, KEPT, KEPT, KEPT, CONTAINED]
    assert plan.dup_of.tolist() == [1, -1, -1, -1, 3]
    assert plan.similarity.tolist() == [0.5, 0.0, 0.0, 0.0, 0.5]
    assert plan.counts()["removed_contained"] == 2 and plan.counts()["removed_near"] == 0
    # --keep first does not change containment (the old rule removed line 2 here)
    assert solve(recs, keep="first").status.tolist() == plan.status.tolist()


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]])
def test_prefix_chain_keeps_the_whole_conversation(order: list[int]) -> None:
    chain = [turns("q0", "a0"), turns("q0", "a0", "q1", "a1"),
             turns("q0", "a0", "q1", "a1", "q2", "a2"),
             turns("q0", "a0", "q1", "a1", "q2", "a2", "q3", "a3")]  # fmt: skip
    plan = solve([chain[i] for i in order])
    full = order.index(3)
    assert plan.status.tolist() == [KEPT if i == 3 else CONTAINED for i in order]
    assert set(plan.rep.tolist()) == {full}
    assert plan.clusters() == {full: [full, *sorted(set(range(4)) - {full})]}


def test_shared_greeting_turns_do_not_make_one_cluster() -> None:
    greeting = [("user", "Hello!"), ("assistant", "Hi! How can I help you today?")]
    topics = ["the french revolution", "photosynthesis in plants", "how rust borrows",
              "the rules of chess", "baking sourdough bread", "why the sky is blue"]  # fmt: skip
    convs = [chat(*greeting, ("user", f"Tell me about {t}."),
                  ("assistant", f"Here is a short overview of {t}, step by step."))
             for t in topics]  # fmt: skip
    recs = [chat(*greeting), *convs, chat(*greeting)]
    plan = solve(recs)
    # every conversation is kept; only the bare greeting (and its copy) go
    assert plan.status.tolist() == [CONTAINED, *[KEPT] * 6, EXACT]
    assert max(len(m) for m in plan.clusters().values()) == 3
    assert plan.dup_of[0] == plan.rep[0] and plan.status[plan.rep[0]] == KEPT


def test_chained_near_duplicates_are_not_one_cluster() -> None:
    from curate.dedup.minhash import jaccard, shingles
    from curate.dedup.text import scope_text

    words = LONG.split()[:40]
    a = words
    b = [*words[:5], "zebra", *words[6:]]  # one word changed near the start
    c = [*b[:34], "yak", *b[35:]]  # and one near the end
    recs = [qa("q", " ".join(x)) for x in (a, b, c)]
    sh = [shingles(scope_text(r)) for r in recs]
    assert jaccard(sh[0], sh[1]) >= 0.8 and jaccard(sh[1], sh[2]) >= 0.8
    assert jaccard(sh[0], sh[2]) < 0.8  # a chain: the ends are not near duplicates
    plan = solve(recs, keep="first")
    assert plan.status.tolist() == [KEPT, NEAR, KEPT]
    # every removed example is at or above the threshold against the one it is kept for
    for keep in ("first", "longest"):
        plan = solve(recs, keep=keep)
        for i in np.flatnonzero(plan.status == NEAR).tolist():
            r = int(plan.rep[i])
            assert plan.status[r] == KEPT and jaccard(sh[i], sh[r]) >= 0.8
            assert plan.rep_similarity[i] == pytest.approx(jaccard(sh[i], sh[r]))


def test_keep_prefers_more_information() -> None:
    short = qa("Why recycle?", LONG.replace(" and helps create jobs", ""))
    longer = qa("Why recycle?", LONG)
    assert solve([short, longer]).status.tolist() == [NEAR, KEPT]
    assert solve([short, longer], keep="first").status.tolist() == [KEPT, NEAR]
    with pytest.raises(ValueError, match="unknown keep rule"):
        Params(keep="newest")


def test_contained_in_a_contaminated_conversation_is_kept() -> None:
    # the container leaks an eval example and goes; what it contained is all that is left
    eval_conv = turns("q1", "a1")
    plan = solve([turns("q0", "a0"), turns("q0", "a0", "q1", "a1")], refs=[eval_conv])
    assert plan.status.tolist() == [KEPT, CONTAMINATED, KEPT]
    assert plan.how[1] == BY_CONTAINMENT and plan.dup_of[1] == 2


def test_contamination_removes_training_copies_only() -> None:
    eval_q = qa("Name the top 5 NHL players in 2021.", LONG)
    train = [qa("Unrelated question", "An unrelated answer with words."),
             qa("name the top 5 nhl players in 2021.", LONG.replace("jobs", "work")),
             qa("NAME THE TOP 5 NHL PLAYERS IN 2021.", LONG)]  # fmt: skip
    plan = solve(train, refs=[eval_q])
    assert plan.status.tolist() == [KEPT, CONTAMINATED, CONTAMINATED, KEPT]
    assert plan.dup_of.tolist()[:3] == [-1, 3, 3]
    assert plan.is_ref.tolist() == [False, False, False, True]
    assert plan.counts()["removed_contaminated"] == 2
    assert plan.clusters() == {}
    # an exact copy of a nearly leaked example is contaminated too, pointing at the eval one
    plan = solve([*train[:2], train[1]], refs=[eval_q])
    assert plan.status.tolist() == [KEPT, CONTAMINATED, CONTAMINATED, KEPT]
    assert plan.dup_of.tolist()[:3] == [-1, 3, 3]
    assert plan.similarity[2] == plan.similarity[1] < 1.0


def test_exact_only_and_empty() -> None:
    recs = [qa("q", LONG), qa("q", LONG.replace("timber", "wood")), qa("Q", LONG)]
    assert solve(recs, near=False).status.tolist() == [KEPT, KEPT, EXACT]
    assert solve([]).status.tolist() == []
    empty = [chat(("user", "")), chat(("user", " ")), 42, "text"]
    assert solve(empty).status.tolist() == [KEPT, EXACT, KEPT, KEPT]


def test_params_validate() -> None:
    with pytest.raises(ValueError, match="unknown scope 'turns'"):
        Params(scope="turns")
    with pytest.raises(ValueError, match="threshold"):
        Params(threshold=1.5)


def test_cluster_keys_on_fixture_examples() -> None:
    exs = []
    for n, line in enumerate((FIXTURES / "dedup/train.jsonl").read_text().splitlines(), 1):
        try:
            exs.append(Example(json.loads(line), Location("train.jsonl", n)))
        except json.JSONDecodeError:
            continue
    keys = cluster_keys(exs)
    by_line = {e.source.line: k for e, k in zip(exs, keys, strict=True)}
    ids = {e.source.line: e.id for e in exs}
    assert by_line[3] == ids[1] and by_line[4] == ids[2] and by_line[6] == ids[5]
    assert by_line[11] == ids[9]
    assert by_line[7] == ids[7] and by_line[12] == ids[12]
    assert cluster_keys(exs, near=False)[by_line.__len__() - 1] == ids[12]
    exact_only = dict(zip([e.source.line for e in exs], cluster_keys(exs, near=False), strict=True))
    assert exact_only[4] == ids[4] and exact_only[3] == ids[1]
    assert cluster_keys(exs, seed=7) == keys


def test_solve_is_deterministic_across_batching() -> None:
    recs = [qa(f"question {i % 40}", LONG if i % 3 else LONG.replace("jobs", f"w{i}"))
            for i in range(200)]  # fmt: skip
    one = solve(recs)
    idx = DuplicateIndex(Params())
    for s in range(0, 200, 33):
        idx.add(featurize(recs[s : s + 33], idx.params))
    many = idx.solve()
    assert np.array_equal(one.status, many.status) and np.array_equal(one.rep, many.rep)
    assert np.array_equal(one.dup_of, many.dup_of)


@pytest.mark.parametrize("keep", ["longest", "first"])
def test_every_removed_example_is_near_its_kept_one(keep: str) -> None:
    """Many overlapping edits of a few texts (chains everywhere): every near duplicate is
    at or above the threshold against the example it is attributed to, which is kept."""
    from curate.dedup.minhash import jaccard, shingles
    from curate.dedup.text import scope_text

    rng = np.random.default_rng(3)
    base = LONG.split()
    recs = []
    for _ in range(120):
        ws = list(base)
        for _ in range(int(rng.integers(0, 4))):
            ws[int(rng.integers(len(ws)))] = f"w{int(rng.integers(30))}"
        recs.append(qa("q", " ".join(ws)))
    plan = solve(recs, keep=keep)
    sh = [shingles(scope_text(r)) for r in recs]
    near = np.flatnonzero(plan.status == NEAR).tolist()
    assert len(near) > 20
    for i in near:
        r = int(plan.rep[i])
        assert plan.status[r] == KEPT and plan.dup_of[i] == r
        assert jaccard(sh[i], sh[r]) >= 0.8
    for i in np.flatnonzero(plan.status == EXACT).tolist():
        assert plan.status[int(plan.rep[i])] == KEPT
