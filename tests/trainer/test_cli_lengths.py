"""``curate lengths`` end to end through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.cli import main
from tests.trainer.conftest import conv, write_jsonl

CHAT = Path(__file__).resolve().parents[2] / "fixtures" / "trainer" / "chat.jsonl"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_lengths_json(capsys: pytest.CaptureFixture[str], tok_dirs: dict[str, Path]) -> None:
    code, out, _ = run(
        capsys,
        "lengths",
        str(CHAT),
        "--tokenizer",
        str(tok_dirs["chatml_gen"]),
        "--keep",
        "0.9",
        "--keep",
        "1.0",
        "--max-length",
        "128",
        "--json",
    )
    assert code == 0
    s = json.loads(out)
    assert s["n_rendered"] == 40 and s["files"] == [str(CHAT)]
    assert [r["keep"] for r in s["suggestions"]] == [0.9, 1.0]
    assert s["suggestions"][1]["max_length"] == s["tokens"]["max"]
    assert s["suggestions"][1]["tokens_lost"] == 0
    assert s["truncation"]["max_length"] == 128 and "packing" in s["truncation"]


def test_lengths_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lengths", str(CHAT), "--tokenizer", "mistral:v7")
    assert code == 0
    assert out.startswith("40 examples from 1 file(s), tokenizer mistral:v7 (mistral")
    assert "suggested: max_length=" in out and "of examples whole" in out


def test_lengths_reports_rejected_examples(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    p = write_jsonl(
        tmp_path / "d.jsonl",
        [conv(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"))],
    )
    code, out, _ = run(capsys, "lengths", str(p), "--tokenizer", str(tok_dirs["no_system"]))
    assert code == 0
    assert "1 example(s) not counted: the template rejects them" in " ".join(out.split())


def test_lengths_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "lengths", str(CHAT), "--tokenizer", "mistral:v99")
    assert code == 2 and "unknown Mistral tokenizer 'v99'" in err
    code, _, err = run(capsys, "lengths", str(tmp_path / "nope.jsonl"), "--tokenizer", "mistral:v3")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "lengths", str(CHAT))
    assert code == 2 and "--tokenizer" in err


def test_lengths_writes_one_row_per_example(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    p = write_jsonl(
        tmp_path / "d.jsonl",
        [conv(("user", "Hi"), ("assistant", "Hello")), conv(("system", "x"), ("user", "Hi"))],
    )
    out = tmp_path / "rows.jsonl"
    code, _, _ = run(
        capsys, "lengths", str(p), "--tokenizer", str(tok_dirs["no_system"]), "--rows", str(out)
    )
    assert code == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["line"], r["findings"]) for r in rows] == [(1, []), (2, ["template_error"])]
    assert rows[0]["tokens"] > rows[0]["trainable"] > 0 and rows[0]["truncated"] is False
    assert rows[1]["tokens"] is None


def test_unreadable_lines_are_named_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = json.dumps(conv(("user", "hi"), ("assistant", "hello")))
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        (good + "\n" + '{"messages": [{"role": "user"\n' + '{"messages": "x"}\n').encode()
        + b"\xff\xfe\n"
    )
    code, out, err = run(capsys, "lengths", str(path), "--tokenizer", "tiktoken:o200k_base")
    assert code == 1
    assert "1 examples from 1 file(s)" in out
    message = " ".join(err.split())
    assert "3 line(s) not counted" in message and f"{path}:2: invalid JSON" in message
    code, out, _ = run(capsys, "lengths", str(path), "--tokenizer", "tiktoken:o200k_base", "--json")
    s = json.loads(out)
    assert code == 1
    assert (s["n_rendered"], s["n_unreadable"], s["n_skipped"]) == (1, 2, 1)


def test_preference_records_are_left_out_without_failing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pref = {
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "preferred_output": [{"role": "assistant", "content": "hello"}],
        "non_preferred_output": [{"role": "assistant", "content": "go away"}],
    }
    path = write_jsonl(tmp_path / "p.jsonl", [conv(("user", "a"), ("assistant", "b")), pref])
    code, out, _ = run(capsys, "lengths", str(path), "--tokenizer", "tiktoken:o200k_base")
    assert code == 0
    assert "1 preference (DPO) record(s) left out" in out
