from __future__ import annotations

import json

import numpy as np
import pytest

from curate.dedup import cluster_keys
from curate.dedup.core import (
    BY_CONTAINMENT,
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
                             "removed_contaminated": 0}  # fmt: skip


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
    assert plan.status.tolist() == [KEPT, NEAR, NEAR, KEPT]
    assert plan.how[1] == BY_CONTAINMENT and plan.dup_of[1] == 0
    assert plan.similarity[1] == 0.5
    # containment is a conversation-scope rule; exact-only runs skip it
    assert solve([long_conv, tail], scope="user").status.tolist() == [KEPT, KEPT]


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
