from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from curate.records import Example, Location
from curate.validate import validate_path
from curate.validators import duplicates as dup_mod
from curate.validators.base import CorpusValidator, ExampleRef
from curate.validators.duplicates import ExactDuplicates, NearDuplicates
from tests.conftest import FIXTURES

TRAIN = FIXTURES / "dedup/train.jsonl"


def dup_findings(paths: list[Path], *validators: CorpusValidator, **kw: object) -> list:
    report = validate_path(paths, corpus_validators=list(validators), **kw)  # type: ignore[arg-type]
    codes = {"exact_duplicate", "near_duplicate", "contained_duplicate", "conflicting_answers",
             "large_duplicate_cluster"}  # fmt: skip
    return sorted(
        (f for f in report.findings if f.code in codes),
        key=lambda f: (f.location.line, f.code),
    )


def test_protocol_and_pickling() -> None:
    for v in (ExactDuplicates(), NearDuplicates(threshold=0.7, scope="user")):
        assert isinstance(v, CorpusValidator)
        w = pickle.loads(pickle.dumps(v))
        assert w.name == v.name
    assert pickle.loads(pickle.dumps(NearDuplicates(0.7, "user"))).threshold == 0.7
    # the state stays in the main process: tasks sent to workers do not carry it
    v = ExactDuplicates()
    ex = Example({"messages": [{"role": "user", "content": "hi"}]}, Location("t.jsonl", 1))
    list(v.add(ExampleRef(ex.id, ex.source, 0), v.features(ex)))
    assert len(pickle.dumps(v)) < 200 and pickle.loads(pickle.dumps(v))._first == {}


def test_exact_and_conflicting_answers_stream() -> None:
    fs = dup_findings([TRAIN], ExactDuplicates())
    got = [(f.code, f.location.line, f.related.line) for f in fs]
    assert got == [
        ("exact_duplicate", 3, 1),
        ("conflicting_answers", 4, 2),
        ("conflicting_answers", 7, 2),
        ("exact_duplicate", 11, 9),
    ]
    f = fs[0]
    assert f.severity.value == "warning"
    assert f.message.startswith(f"exact duplicate of {TRAIN}:1 (id ")
    assert "curate dedup" in (f.hint or "")
    assert f.data is not None and f.data["similarity"] == 1.0


def test_near_duplicates_finish() -> None:
    fs = dup_findings([TRAIN], ExactDuplicates(), NearDuplicates())
    near = [(f.code, f.location.line, f.related.line) for f in fs
            if f.code in ("near_duplicate", "contained_duplicate")]  # fmt: skip
    assert near == [("near_duplicate", 4, 2), ("contained_duplicate", 6, 5)]
    msg = next(f.message for f in fs if f.code == "near_duplicate")
    assert msg.startswith(f"near duplicate of {TRAIN}:2 (id ")
    assert "estimated Jaccard 0.9" in msg and ">= 0.8 on conversation word 3-grams" in msg
    contained = next(f for f in fs if f.code == "contained_duplicate")
    assert contained.message.startswith(f"its turns are contained in {TRAIN}:5 (id ")
    assert contained.message.endswith("50% of that conversation's turns")


def test_near_duplicates_follow_dedups_rules(tmp_path: Path) -> None:
    """The container is kept whatever the order, the keep rule picks the longer, and a
    large cluster is named: the same examples as curate dedup removes."""
    lines = TRAIN.read_text().splitlines()
    src = tmp_path / "t.jsonl"
    # line 1: the two-turn prefix of line 2's conversation; line 3: line 2 with a word
    # changed; line 4: line 2's near duplicate again
    src.write_text("\n".join([lines[5], lines[4], lines[3], lines[1]]) + "\n")
    fs = dup_findings([src], NearDuplicates(), workers=1)
    got = [(f.code, f.location.line, f.related.line) for f in fs]
    assert ("contained_duplicate", 1, 2) in got
    near = sorted((f.location.line, f.related.line) for f in fs if f.code == "near_duplicate")
    assert near == [(3, 4)]  # line 4 says "reusing" where line 3 says "really": longer
    first = dup_findings([src], NearDuplicates(keep="first"), workers=1)
    assert [(f.location.line, f.related.line) for f in first if f.code == "near_duplicate"] == [
        (4, 3)]  # fmt: skip
    big = tmp_path / "big.jsonl"
    others = [lines[i] for i in (0, 1, 6, 8)]
    big.write_text("\n".join([*others, *[lines[4]] * 11, lines[5]]) + "\n")
    fs = dup_findings([big], NearDuplicates(), workers=1)
    (large,) = [f for f in fs if f.code == "large_duplicate_cluster"]
    assert large.location.line == 5 and large.message.startswith("12 of 16 examples (75.0%)")


def test_across_files_and_in_worker_processes(tmp_path: Path) -> None:
    other = tmp_path / "copy.jsonl"
    lines = TRAIN.read_text().splitlines()
    other.write_text(lines[0] + "\n" + lines[1].replace("recycling", "RECYCLING") + "\n")
    fs = dup_findings([TRAIN, other], ExactDuplicates(), NearDuplicates(), workers=1)
    cross = [f for f in fs if f.location.file == str(other)]
    assert [(f.code, str(f.related)) for f in cross] == [
        ("exact_duplicate", f"{TRAIN}:1"),
        ("exact_duplicate", f"{TRAIN}:2"),
    ]


@pytest.mark.parametrize("threshold,expected", [(0.99, []), (0.5, [(4, 2)])])
def test_threshold_with_exact_jaccard(
    threshold: float, expected: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keep every example's shingles: pairs are verified by the exact Jaccard (line 4: 0.978)
    monkeypatch.setattr(dup_mod, "MAX_KEPT_SHINGLES", 10_000)
    fs = dup_findings([TRAIN], NearDuplicates(threshold=threshold), workers=1)
    near = [f for f in fs if f.code == "near_duplicate"]
    assert [(f.location.line, f.related.line) for f in near] == expected
    if threshold == 0.5:
        assert "(id " in near[0].message and ": Jaccard 0.98 >= 0.5" in near[0].message


def test_through_the_process_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import curate.validate as validate_mod

    monkeypatch.setattr(validate_mod, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(validate_mod, "BATCH_BYTES", 300)
    fs = dup_findings([TRAIN], ExactDuplicates(), NearDuplicates(), workers=2)
    got = [(f.code, f.location.line, f.related.line) for f in fs]
    assert ("exact_duplicate", 3, 1) in got and ("near_duplicate", 4, 2) in got
    assert ("contained_duplicate", 6, 5) in got and ("exact_duplicate", 11, 9) in got
