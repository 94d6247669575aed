from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.conftest import run_cli as run

TRAIN = FIXTURES / "dedup/train.jsonl"
EVAL = FIXTURES / "dedup/eval.jsonl"


def test_json_summary_balances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "clean.jsonl"
    code, stdout, err = run(
        ["dedup", str(TRAIN), "--against", str(EVAL), "-o", str(out), "--json"], capsys
    )
    # the fixture has one unreadable line: bad input, so exit 1, named on stderr
    assert code == 1
    assert f"first: {TRAIN}:" in err and "clean.rejected.jsonl" in err
    s = json.loads(stdout)
    assert s["removed_invalid"] == 1 and s["first_invalid"].startswith(f"{TRAIN}:")
    removed = sum(v for k, v in s.items() if k.startswith("removed_"))
    assert s["read"] == s["kept"] + removed == 11
    assert s["clusters"] == 4 and s["removed_contaminated"] == 1
    assert (s["removed_near"], s["removed_contained"]) == (1, 1)
    assert (s["keep"], s["containment"], s["findings"]) == ("longest", True, [])
    assert s["largest_cluster"]["size"] == 2 and s["largest_cluster"]["share"] == 0.1818
    assert s["rejects"] == str(tmp_path / "clean.rejected.jsonl")
    assert len(out.read_text().splitlines()) == 5


def test_text_summary_and_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(
        ["dedup", str(TRAIN), "--exact-only", "--scope", "conversation",
         "--clusters", str(tmp_path / "c.jsonl"), "--allow-invalid"], capsys)  # fmt: skip
    assert code == 0
    assert (
        "read 11: kept 8, removed 2 exact, 0 near, 0 contained, 0 contaminated, 1 unreadable"
        in stdout
    )
    assert "dry run: pass -o OUT" in stdout
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 2
    code, stdout, _ = run(["dedup", str(TRAIN), "--no-containment", "--keep", "first",
                           "--allow-invalid"], capsys)  # fmt: skip
    assert code == 0
    assert "kept 7, removed 2 exact, 1 near, 0 contained, 0 contaminated" in stdout
    code, _, err = run(["dedup", str(TRAIN), "--keep", "last"], capsys)
    assert code == 2 and "Invalid value for '--keep'" in err


@pytest.mark.parametrize("flag", ["-o", "--rejects", "--clusters"])
def test_output_equal_to_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    data = tmp_path / "a.jsonl"
    data.write_bytes(TRAIN.read_bytes())
    code, _, err = run(["dedup", str(data), flag, str(data), "--allow-invalid"], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{data}: the " in err and "output is also an input of dedup" in err
    assert data.read_bytes() == TRAIN.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["a.jsonl"]


def test_large_cluster_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = TRAIN.read_text().splitlines()[0]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([line] * 12) + "\n")
    code, stdout, _ = run(["dedup", str(src), "-o", str(tmp_path / "o.jsonl")], capsys)
    assert code == 0
    assert f"warning: {src}:1: one cluster holds 12 of 12 examples (100.0%)" in stdout


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["dedup", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o")], capsys)
    assert code == 2 and "no such file" in err and "Traceback" not in err
    code, _, err = run(["dedup", str(TRAIN), "--threshold", "1.5"], capsys)
    assert code == 2
    code, _, err = run(["dedup", str(TRAIN), "--scope", "turns"], capsys)
    assert code == 2


def test_help_has_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["dedup", "--help"], capsys)
    assert code == 0 and "Example: curate dedup" in stdout and "--against" in stdout


def test_unwritable_output_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(["dedup", str(TRAIN), "-o", str(blocker / "out.jsonl")], capsys)
    assert code == 2 and "cannot write" in err and "Traceback" not in err


def test_the_docs_tiny_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/dedup.md and the README show this run: lines 1 and 5 go, no turn is lost."""
    out = tmp_path / "kept.jsonl"
    code, stdout, _ = run(["dedup", str(FIXTURES / "dedup/turns.jsonl"), "-o", str(out)], capsys)
    assert code == 0
    assert stdout.startswith(
        "read 5: kept 3, removed 0 exact, 0 near, 2 contained, 0 contaminated, 0 unreadable; "
        "2 clusters; 0 prompts with conflicting answers\n"
    )
    src = (FIXTURES / "dedup/turns.jsonl").read_text().splitlines()
    assert out.read_text().splitlines() == src[1:4]
    rej = [json.loads(x) for x in (tmp_path / "kept.rejected.jsonl").read_text().splitlines()]
    assert [(r["source"]["line"], r["reason"]) for r in rej] == [
        (1, "contained_duplicate"),
        (5, "contained_duplicate"),
    ]
    assert ":2 (id " in rej[0]["message"] and ":4 (id " in rej[1]["message"]
    turns = {m["content"] for x in src for m in json.loads(x)["messages"]}
    kept = {m["content"] for x in out.read_text().splitlines() for m in json.loads(x)["messages"]}
    assert kept == turns
