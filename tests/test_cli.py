from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from curate.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_clean_file_exits_0_with_summary(
    capsys: pytest.CaptureFixture[str], fixtures: Path
) -> None:
    code, out, _ = run(capsys, "validate", str(fixtures / "openai/good.jsonl"))
    assert code == 0
    assert "good.jsonl" in out and "no findings" in out
    assert "model gpt-4o-mini (o200k_base), max 65,536 tokens per example" in out


def test_long_paths_are_printed_whole_in_pipes(
    capsys: pytest.CaptureFixture[str], fixtures: Path, tmp_path: Path
) -> None:
    # CI clones into deep folders; the summary table used to cut the path with an ellipsis.
    deep = tmp_path.joinpath(*(["a-rather-long-folder-name"] * 4), "openai")
    deep.mkdir(parents=True)
    target = deep / "good.jsonl"
    target.write_bytes((fixtures / "openai/good.jsonl").read_bytes())
    code, out, _ = run(capsys, "validate", str(target))
    assert code == 0
    assert str(target) in out


def test_findings_exit_1_grouped_by_code(
    capsys: pytest.CaptureFixture[str], fixtures: Path
) -> None:
    code, out, err = run(capsys, "validate", str(fixtures / "openai/cookbook_errors.jsonl"))
    assert code == 1
    assert "error missing_content (3)" in out
    assert "cookbook_errors.jsonl:6 [message 0]: unrecognized role 'human'" in out
    assert "fix: use one of: assistant, function, system, tool, user" in out
    assert "findings at or above 'error' (exit 1)" in err


def test_json_contract(capsys: pytest.CaptureFixture[str], fixtures: Path) -> None:
    code, out, _ = run(
        capsys,
        "validate",
        "--json",
        "--model",
        "gpt-3.5-turbo",
        "--max-tokens",
        "4096",
        str(fixtures / "openai/cookbook_toy.jsonl"),
    )
    d = json.loads(out)
    assert code == 1  # one too_long error
    for key in (
        "n_examples",
        "n_valid",
        "n_invalid",
        "findings_by_code",
        "findings",
        "stats",
        "tokens",
        "billing",
    ):
        assert key in d
    assert set(d["findings"][0]) >= {"code", "severity", "message", "file", "line", "message_index"}
    assert set(d["stats"]) >= {
        "n_missing_system",
        "n_missing_user",
        "n_too_long",
        "messages_per_example",
    }
    assert set(d["tokens"]) >= {"total", "assistant_total", "per_example", "assistant_per_example"}
    for dist in (d["tokens"]["per_example"], d["tokens"]["assistant_per_example"]):
        assert set(dist) >= {"min", "max", "mean", "median", "p5", "p95"}
    assert d["billing"] == {
        "model": "gpt-3.5-turbo",
        "encoding": "cl100k_base",
        "max_tokens": 4096,
        "n_billing_tokens": 4306,
        "epochs": 20,
        "estimated_training_tokens": 86120,
        "price_per_million_tokens": 8.0,
        "estimated_cost_usd": 0.68896,
    }


def test_fail_on_levels(capsys: pytest.CaptureFixture[str], fixtures: Path) -> None:
    f = str(fixtures / "openai/blank_lines.jsonl")
    assert run(capsys, "validate", f)[0] == 0
    assert run(capsys, "validate", f, "--fail-on", "warning")[0] == 1
    bad = str(fixtures / "openai/cookbook_errors.jsonl")
    assert run(capsys, "validate", bad, "--fail-on", "never")[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "missing.jsonl"], "missing.jsonl: no such file"),
        (["validate", "--model", "llama-3", "X"], "unknown model 'llama-3'"),
        (["validate", "--fail-on", "sometimes", "X"], "Invalid value for '--fail-on'"),
        (["validate"], "Missing argument"),
        (["frobnicate"], "No such command"),
    ],
)
def test_usage_and_input_errors_exit_2_without_traceback(
    capsys: pytest.CaptureFixture[str], fixtures: Path, args: list[str], message: str
) -> None:
    args = [str(fixtures / "openai/good.jsonl") if a == "X" else a for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in out + err
    assert "Traceback" not in out + err


def test_directory_argument(capsys: pytest.CaptureFixture[str], fixtures: Path) -> None:
    code, _, err = run(capsys, "validate", str(fixtures / "openai"))
    assert code == 2 and "is a directory, not a file" in err


def test_config_from_pyproject(
    capsys: pytest.CaptureFixture[str],
    fixtures: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.curate]\nmodel = "gpt-3.5-turbo"\nmax_tokens = 4096\n[tool.curate.prices]\n'
        '"gpt-3.5-turbo" = 10.0\n'
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "validate", "--json", str(fixtures / "openai/cookbook_toy.jsonl"))
    b = json.loads(out)["billing"]
    assert (b["model"], b["max_tokens"], b["price_per_million_tokens"]) == (
        "gpt-3.5-turbo",
        4096,
        10.0,
    )
    assert b["estimated_cost_usd"] == 0.8612
    # the CLI wins over the file
    code, out, _ = run(
        capsys,
        "validate",
        "--json",
        "--max-tokens",
        "9000",
        str(fixtures / "openai/cookbook_toy.jsonl"),
    )
    assert json.loads(out)["billing"]["max_tokens"] == 9000 and code == 0


def test_config_typo_is_an_error(
    capsys: pytest.CaptureFixture[str],
    fixtures: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.curate]\nmax_token = 4096\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "validate", str(fixtures / "openai/good.jsonl"))
    assert code == 2 and "unknown key(s) in [tool.curate]: max_token" in err


def test_console_script_end_to_end(fixtures: Path) -> None:
    exe = Path(sys.executable).with_name("curate")
    r = subprocess.run(
        [str(exe), "validate", "--style", "compact", str(fixtures / "openai/invalid_json.jsonl")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1
    assert "invalid_json.jsonl:2: error invalid_json: invalid JSON at column 48" in r.stdout
    assert r.stderr == ""  # no progress bar outside a terminal


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    import typer.main

    from curate.cli import app

    group = typer.main.get_command(app)
    names = sorted(group.commands)  # type: ignore[attr-defined]
    assert "validate" in names
    for name in names:
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "Usage:" in out, name


def test_expectations_join_the_findings(
    capsys: pytest.CaptureFixture[str], fixtures: Path, tmp_path: Path
) -> None:
    suite = tmp_path / "suite.json"
    code, _, _ = run(
        capsys, "profile", str(fixtures / "expectations/clean.jsonl"), "-o", str(suite)
    )
    assert code == 0 and suite.is_file()
    args = ["--no-content", "--duplicates", "none", "--expectations", str(suite), "--json"]
    code, out, _ = run(capsys, "validate", str(fixtures / "expectations/clean_batch2.jsonl"), *args)
    assert code == 0 and json.loads(out)["findings_by_code"] == {}
    code, out, _ = run(
        capsys, "validate", str(fixtures / "expectations/drift_no_system.jsonl"), *args
    )
    d = json.loads(out)
    assert code == 1
    messages = [f["message"] for f in d["findings"] if f["code"] == "expectation_failed"]
    assert (
        "expect_column_mean_to_be_between on has_system: observed 0.4667, expected 0.8042 to 1"
        in messages
    )


def test_json_output_is_the_standard_librarys_json() -> None:
    """--json text is written by orjson: the same text json.dumps(indent=2, default=str)
    wrote, except that not-a-number floats are now null and floats in exponent form are
    written 1.5e-7 instead of 1.5e-07 (the same value); huge integers still go through
    the standard library."""
    import dataclasses
    import datetime
    import json
    from pathlib import Path

    from curate.console import json_text

    @dataclasses.dataclass
    class Point:
        x: int

    values = [
        {"n": 1, "f": 2.5, "cost": 0.0123, "none": None, "ok": True, "neg": -3},
        {"text": 'é 中文 \u2028 "quoted" \\ \t', "nested": [[], {}, [1, [2, {"a": []}]]]},
        {1: "int key", "path": Path("/x/y"), "when": datetime.datetime(2026, 1, 2, 3, 4, 5)},
        {"point": Point(3), "tuple": (1, 2), "huge": 1 << 70},
        [],
        "just a string",
    ]
    for v in values:
        assert json_text(v) == json.dumps(v, ensure_ascii=False, indent=2, default=str), v
    assert json.loads(json_text({"nan": float("nan")})) == {"nan": None}
    floats = {"tiny": 1.5e-07, "big": 1e300, "third": 1 / 3}
    assert json.loads(json_text(floats)) == floats  # same values, exponent written 1.5e-7
