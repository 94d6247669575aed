from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate.dedup import run as run_mod
from curate.dedup.run import dedup_paths, default_side_paths
from curate.records import InputError
from tests.conftest import FIXTURES

TRAIN = FIXTURES / "dedup/train.jsonl"
EVAL = FIXTURES / "dedup/eval.jsonl"


def rows(p: Path | str) -> list[dict]:
    return [json.loads(x) for x in Path(p).read_text(encoding="utf-8").splitlines()]


def test_fixture_counts_rejects_and_clusters(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    s = dedup_paths([TRAIN], out, against=[EVAL])
    got = (s.read, s.kept, s.removed_exact, s.removed_near, s.removed_contaminated,
           s.removed_invalid, s.clusters, s.conflicting_answers)  # fmt: skip
    assert got == (11, 5, 2, 2, 1, 1, 4, 1)
    assert s.read == s.kept + s.removed_exact + s.removed_near + s.removed_contaminated + 1
    assert s.reference_read == 2
    lines = TRAIN.read_bytes().split(b"\n")
    assert out.read_bytes() == b"".join(lines[i - 1] + b"\n" for i in (1, 2, 5, 7, 9))
    rej = {r["source"]["line"]: r for r in rows(s.rejects)}  # type: ignore[arg-type]
    assert {k: v["reason"] for k, v in rej.items()} == {
        3: "exact_duplicate", 4: "near_duplicate", 6: "near_duplicate", 8: "invalid_json",
        11: "exact_duplicate", 12: "contaminated"}  # fmt: skip
    assert rej[3]["duplicate_of"]["source"] == {"file": str(TRAIN), "line": 1}
    assert rej[3]["message"].startswith(f"exact duplicate of {TRAIN}:1 (id ")
    assert rej[4]["similarity"] == pytest.approx(0.9781, abs=1e-4)
    assert rej[6]["match"] == "containment" and rej[6]["similarity"] == 0.5
    assert rej[12]["duplicate_of"]["source"] == {"file": str(EVAL), "line": 2}
    assert rej[8]["raw"].startswith('{"messages"') and rej[8]["id"] is None
    assert rej[4]["record"] == json.loads(TRAIN.read_text().splitlines()[3])
    clusters = rows(s.clusters_file)  # type: ignore[arg-type]
    assert [[m["line"] for m in c["members"]] for c in clusters] == [
        [1, 3],
        [2, 4],
        [5, 6],
        [9, 11],
    ]
    assert clusters[1]["members"][1]["status"] == "near_duplicate"


def test_default_side_paths() -> None:
    assert default_side_paths("d/train.jsonl") == (
        "d/train.rejects.jsonl",
        "d/train.clusters.jsonl",
    )
    assert default_side_paths("x.json") == ("x.json.rejects.jsonl", "x.json.clusters.jsonl")


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
    for suffix in (".jsonl", ".rejects.jsonl", ".clusters.jsonl"):
        assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()
    assert a.kept == 6 and a.read == 11 * 30  # no --against: line 12 stays


def test_multiple_inputs_bom_crlf_and_decontaminate_only(tmp_path: Path) -> None:
    first = tmp_path / "one.jsonl"
    first.write_bytes(b"\xef\xbb\xbf" + TRAIN.read_bytes().split(b"\n")[0] + b"\r\n")
    s = dedup_paths([first, TRAIN], tmp_path / "o.jsonl", against=[EVAL], dedup=False)
    assert s.removed_exact == s.removed_near == 0
    assert (s.read, s.kept, s.removed_contaminated, s.removed_invalid) == (12, 10, 1, 1)
    assert (tmp_path / "o.jsonl").read_bytes().startswith(b'{"messages"')  # BOM dropped
    s = dedup_paths([first, TRAIN], tmp_path / "o.jsonl")
    rej = rows(s.rejects)  # type: ignore[arg-type]
    assert rej[0]["source"] == {"file": str(TRAIN), "line": 1}
    assert rej[0]["duplicate_of"]["source"] == {"file": str(first), "line": 1}


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
    with pytest.raises(InputError, match="is also an --against file"):
        dedup_paths([TRAIN], ev, against=[ev])
    assert ev.read_bytes() == EVAL.read_bytes()
    with pytest.raises(InputError, match="must be different files"):
        dedup_paths([TRAIN], tmp_path / "o.jsonl", rejects=tmp_path / "o.jsonl")


def test_empty_and_garbage_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    s = dedup_paths([empty], tmp_path / "o.jsonl")
    assert (s.read, s.kept) == (0, 0) and (tmp_path / "o.jsonl").read_bytes() == b""
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'\xff\xfe{"x": 1}\n\n[1, 2]\n"just a string"\n[1, 2]\n')
    s = dedup_paths([bad], tmp_path / "o.jsonl")
    assert (s.read, s.kept, s.removed_exact, s.removed_invalid) == (4, 2, 1, 1)
    rej = rows(s.rejects)  # type: ignore[arg-type]
    assert rej[0]["reason"] == "invalid_encoding" and rej[0]["raw"].startswith("\\xff\\xfe")


def test_compressed_input(tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "train.jsonl.gz"
    gz.write_bytes(gzip.compress(TRAIN.read_bytes()))
    s = dedup_paths([gz], tmp_path / "o.jsonl")
    assert (s.read, s.kept, s.removed_exact, s.removed_near) == (11, 6, 2, 2)
    assert (tmp_path / "o.jsonl").read_bytes().split(b"\n")[0] == TRAIN.read_bytes().split(b"\n")[0]
