from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate.dedup import run as run_mod
from curate.dedup.run import dedup_paths, default_side_paths
from curate.records import CurateError, InputError
from tests.conftest import FIXTURES, write_jsonl

TRAIN = FIXTURES / "dedup/train.jsonl"
EVAL = FIXTURES / "dedup/eval.jsonl"


def rows(p: Path | str) -> list[dict]:
    return [json.loads(x) for x in Path(p).read_text(encoding="utf-8").splitlines()]


def test_fixture_counts_rejects_and_clusters(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    s = dedup_paths([TRAIN], out, against=[EVAL])
    got = (s.read, s.kept, s.removed_exact, s.removed_near, s.removed_contained,
           s.removed_contaminated, s.removed_invalid, s.clusters,
           s.conflicting_answers)  # fmt: skip
    assert got == (11, 5, 2, 1, 1, 1, 1, 4, 1)
    s.counts().check("dedup")
    assert s.reference_read == 2
    lines = TRAIN.read_bytes().split(b"\n")
    assert out.read_bytes() == b"".join(lines[i - 1] + b"\n" for i in (1, 2, 5, 7, 9))
    assert s.rejects == str(tmp_path / "out.rejected.jsonl")
    rej = {r["source"]["line"]: r for r in rows(s.rejects)}  # type: ignore[arg-type]
    assert {k: v["reason"] for k, v in rej.items()} == {
        3: "exact_duplicate", 4: "near_duplicate", 6: "contained_duplicate",
        8: "invalid_json", 11: "exact_duplicate", 12: "contaminated"}  # fmt: skip
    # the one reject row shape; a duplicate's details are in its finding
    assert all(set(r) == {"source", "reason", "message", "findings", "record"}
               for r in rej.values())  # fmt: skip
    info = {k: v["findings"][0]["data"] for k, v in rej.items() if k != 8}
    assert info[3]["duplicate_of"]["source"] == {"file": str(TRAIN), "line": 1}
    assert rej[3]["message"].startswith(f"exact duplicate of {TRAIN}:1 (id ")
    assert info[4]["similarity"] == pytest.approx(0.9781, abs=1e-4)
    assert info[6]["match"] == "containment" and info[6]["similarity"] == 0.5
    assert rej[6]["message"].startswith(f"its turns are contained in {TRAIN}:5 (id ")
    assert info[12]["duplicate_of"]["source"] == {"file": str(EVAL), "line": 2}
    assert rej[8]["record"].startswith('{"messages"')
    assert rej[8]["findings"][0]["code"] == "invalid_json"
    assert rej[4]["record"] == json.loads(TRAIN.read_text().splitlines()[3])
    clusters = rows(s.clusters_file)  # type: ignore[arg-type]
    assert [[m["line"] for m in c["members"]] for c in clusters] == [
        [1, 3],
        [2, 4],
        [5, 6],
        [9, 11],
    ]
    assert clusters[1]["members"][1]["status"] == "near_duplicate"
    assert clusters[1]["members"][1]["similarity"] == pytest.approx(0.9781, abs=1e-4)
    assert clusters[2]["members"][1]["status"] == "contained_duplicate"
    assert s.largest_cluster is not None and s.largest_cluster["size"] == 2
    assert s.findings == []  # clusters of 2 in 11 lines are not "large" (at least 10)


def test_default_side_paths() -> None:
    assert default_side_paths("d/train.jsonl") == (
        "d/train.rejected.jsonl",
        "d/train.clusters.jsonl",
    )
    assert default_side_paths("x.json") == ("x.rejected.jsonl", "x.clusters.jsonl")


def test_byte_for_byte_deterministic_and_parallel_equals_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.jsonl"
    src = [ln for ln in TRAIN.read_text().splitlines() if ln.strip()]
    big.write_text("\n".join(src * 30) + "\n")
    a = dedup_paths([big], tmp_path / "a.jsonl", workers=1)
    monkeypatch.setattr(run_mod, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(run_mod, "BATCH_LINES", 7)
    b = dedup_paths([big], tmp_path / "b.jsonl", workers=2)
    assert (a.kept, a.removed_exact, a.removed_near) == (b.kept, b.removed_exact, b.removed_near)
    for suffix in (".jsonl", ".rejected.jsonl", ".clusters.jsonl"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
    assert a.kept == 6 and a.read == 11 * 30  # no --against: line 12 stays
    assert a.largest_cluster is not None and a.largest_cluster["size"] == 60
    assert len(a.findings) == 6  # the six kept lines' clusters: 60 of 330 lines each


def test_multiple_inputs_bom_crlf_and_decontaminate_only(tmp_path: Path) -> None:
    first = tmp_path / "one.jsonl"
    first.write_bytes(b"\xef\xbb\xbf" + TRAIN.read_bytes().split(b"\n")[0] + b"\r\n")
    s = dedup_paths([first, TRAIN], tmp_path / "o.jsonl", against=[EVAL], dedup=False)
    assert s.removed_exact == s.removed_near == s.removed_contained == 0
    assert (s.read, s.kept, s.removed_contaminated, s.removed_invalid) == (12, 10, 1, 1)
    assert (tmp_path / "o.jsonl").read_bytes().startswith(b'{"messages"')  # BOM dropped
    s = dedup_paths([first, TRAIN], tmp_path / "o.jsonl")
    rej = rows(s.rejects)  # type: ignore[arg-type]
    assert rej[0]["source"] == {"file": str(TRAIN), "line": 1}
    assert rej[0]["findings"][0]["data"]["duplicate_of"]["source"] == {"file": str(first),
                                                                        "line": 1}  # fmt: skip


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    s = dedup_paths([TRAIN], None)
    assert s.output is None and s.rejects is None and s.kept == 6
    assert list(tmp_path.iterdir()) == []


def test_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        dedup_paths([tmp_path / "missing.jsonl"], tmp_path / "o.jsonl")
    with pytest.raises(InputError, match="is a directory"):
        dedup_paths([tmp_path], tmp_path / "o.jsonl")
    ev = tmp_path / "eval.jsonl"
    shutil.copy(EVAL, ev)
    with pytest.raises(CurateError, match="kept output is also an input of dedup"):
        dedup_paths([TRAIN], ev, against=[ev])
    assert ev.read_bytes() == EVAL.read_bytes()
    with pytest.raises(CurateError, match="given for both the kept and the rejects output"):
        dedup_paths([TRAIN], tmp_path / "o.jsonl", rejects=tmp_path / "o.jsonl")


@pytest.mark.parametrize("role", ["output", "rejects", "clusters"])
def test_an_output_equal_to_the_input_is_refused(tmp_path: Path, role: str) -> None:
    data = tmp_path / "a.jsonl"
    shutil.copy(TRAIN, data)
    before = data.read_bytes()
    kw = {"output": tmp_path / "o.jsonl"} if role != "output" else {}
    kw[role] = data
    with pytest.raises(CurateError, match=f"{data}: the .* output is also an input of dedup"):
        dedup_paths([data], **kw)  # type: ignore[arg-type]
    assert data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl"]  # nothing written


def test_the_issues_tiny_example(tmp_path: Path) -> None:
    q = {f"q{i}": f"Question number {i} about the weather in town" for i in range(4)}
    a = {f"a{i}": f"Answer number {i}: it will be sunny and warm" for i in range(4)}
    text = {**q, **a}

    def conv(*names: str) -> dict:
        return {"messages": [{"role": "user" if n[0] == "q" else "assistant",
                              "content": text[n]} for n in names]}  # fmt: skip

    recs = [conv("q0", "a0"), conv("q0", "a0", "q1", "a1"), conv("q1", "a1", "q2", "a2"),
            conv("q2", "a2", "q3", "a3"), conv("q3", "a3")]  # fmt: skip
    src = write_jsonl(tmp_path / "chat.jsonl", recs)
    s = dedup_paths([src], tmp_path / "out.jsonl")
    assert (s.read, s.kept, s.removed_contained, s.removed_near) == (5, 3, 2, 0)
    assert [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()] == recs[1:4]
    rej = rows(tmp_path / "out.rejected.jsonl")
    assert [(r["source"]["line"], r["reason"]) for r in rej] == [
        (1, "contained_duplicate"), (5, "contained_duplicate")]  # fmt: skip
    assert rej[0]["message"].startswith(f"its turns are contained in {src}:2 (id ")
    assert rej[0]["message"].endswith("50% of that conversation's turns")
    # the same whatever the order in the file
    rev = write_jsonl(tmp_path / "rev.jsonl", recs[::-1])
    s = dedup_paths([rev], tmp_path / "rev.out.jsonl", keep="first")
    assert [r["source"]["line"] for r in rows(tmp_path / "rev.out.rejected.jsonl")] == [1, 5]
    s = dedup_paths([src], tmp_path / "all.jsonl", containment=False)
    assert (s.kept, s.removed_contained) == (5, 0)


def test_large_cluster_finding(tmp_path: Path) -> None:
    rec = {"messages": [{"role": "user", "content": "ping"},
                        {"role": "assistant", "content": "pong"}]}  # fmt: skip
    others = [{"messages": [{"role": "user", "content": f"question {i}"},
                            {"role": "assistant", "content": f"answer {i}"}]}
              for i in range(200)]  # fmt: skip
    src = write_jsonl(tmp_path / "in.jsonl", [*others[:100], *[rec] * 12, *others[100:]])
    s = dedup_paths([src], tmp_path / "o.jsonl")
    assert s.largest_cluster is not None
    big = s.largest_cluster
    assert big == {"cluster": 0, "representative": big["representative"],
                   "file": str(src), "line": 101, "size": 12,
                   "share": round(12 / 212, 4)}  # fmt: skip
    (f,) = s.findings
    assert f.code == "large_duplicate_cluster" and str(f.location) == f"{src}:101"
    assert f.message.startswith("one cluster holds 12 of 212 examples (5.7%)")
    assert "(cluster 0 in " in f.message
    assert s.result().findings == [f] and s.result().counts.deduplicated == 11


def test_empty_and_garbage_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jsonl: no examples to deduplicate"):
        dedup_paths([empty], tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'\xc3\x28{"x": 1}\n\n[1, 2]\n"just a string"\n[1, 2]\n')
    s = dedup_paths([bad], tmp_path / "o.jsonl")
    assert (s.read, s.kept, s.removed_exact, s.removed_invalid) == (4, 2, 1, 1)
    rej = rows(s.rejects)  # type: ignore[arg-type]
    assert rej[0]["reason"] == "invalid_encoding" and rej[0]["record"].startswith("\\xc3(")


def test_compressed_input(tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "train.jsonl.gz"
    gz.write_bytes(gzip.compress(TRAIN.read_bytes()))
    s = dedup_paths([gz], tmp_path / "o.jsonl")
    assert (s.read, s.kept, s.removed_exact, s.removed_near, s.removed_contained) == (
        11, 6, 2, 1, 1)  # fmt: skip
    assert (tmp_path / "o.jsonl").read_bytes().split(b"\n")[0] == TRAIN.read_bytes().split(b"\n")[0]
