"""curate.pipeline (``curate run``): the real stages chained from a config file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate.pipeline import load_run_config, run_config
from curate.records import CurateError

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "run"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(FIX, tmp_path / "p", ignore=shutil.ignore_patterns("build"))
    for f in (tmp_path / "p").rglob("*"):
        f.chmod(0o755 if f.is_dir() else 0o644)
    return tmp_path / "p"


def stage(summary: dict, name: str) -> dict:
    return next(s for s in summary["stages"] if s["name"] == name)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_run_chains_every_stage_and_counts_balance(project: Path) -> None:
    s = run_config(project / "curate.toml")
    assert s["exit_code"] == 0 and s["stopped_at"] is None
    assert [(x["name"], x["status"]) for x in s["stages"]] == [
        ("ingest", "ok"),
        ("validate", "ok"),
        ("dedup", "ok"),
        ("review", "skipped"),
        ("split", "ok"),
    ]
    ing, val, ded, spl = (stage(s, n)["counts"] for n in ("ingest", "validate", "dedup", "split"))
    assert ing == {"read": 77, "written": 77, "rejected": 0}  # 42 alpaca + 30 sharegpt + 5 chat
    assert val["examples"] == 77 and val["errors"] == 0
    removed = sum(v for k, v in ded.items() if k.startswith("removed_"))
    assert ded["read"] == ing["written"] == ded["kept"] + removed
    assert ded["removed_exact"] == 2  # the two copied alpaca rows
    assert spl["read"] == ded["kept"] == spl["train"] + spl["eval"] + spl["rejected"]
    assert spl["straddling"] == 0
    manifest = json.loads((project / "build" / "split" / "manifest.json").read_text())
    assert manifest["counts"]["train"] == spl["train"]
    assert (project / "build" / "split" / "train.jsonl").exists()


def test_rerun_with_nothing_changed_rewrites_identical_files(project: Path) -> None:
    run_config(project / "curate.toml")
    first = snapshot(project / "build")
    run_config(project / "curate.toml")
    assert snapshot(project / "build") == first


def test_validation_errors_stop_the_run_at_fail_on(project: Path) -> None:
    cfg = project / "curate.toml"
    text = cfg.read_text().replace(
        'model = "gpt-4o-mini"', 'model = "gpt-4o-mini"\nmax_tokens = 200'
    )
    cfg.write_text(text)
    s = run_config(cfg)
    assert s["exit_code"] == 1 and s["stopped_at"] == "validate"
    v = stage(s, "validate")
    assert v["status"] == "failed" and v["counts"]["errors"] >= 1
    assert "fail_on='error'" in v["message"]
    assert stage(s, "split")["status"] == "skipped"
    assert not (project / "build" / "split").exists()
    report = json.loads((project / "build" / "02-validation.json").read_text())
    assert report["findings_by_code"]["too_long"] >= 1
    # the suggested fix: lower the bar and the run goes through
    cfg.write_text(text.replace('fail_on = "error"', 'fail_on = "never"'))
    assert run_config(cfg)["exit_code"] == 0


def test_a_stage_error_stops_with_exit_2_and_names_the_stage(project: Path) -> None:
    cfg = project / "curate.toml"
    cfg.write_text(cfg.read_text().replace("eval_fraction = 0.2", "eval_size = 5000"))
    s = run_config(cfg)
    assert s["exit_code"] == 2 and s["stopped_at"] == "split"
    assert "--eval-size 5000 leaves no training data" in stage(s, "split")["message"]
    assert stage(s, "dedup")["status"] == "ok"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[ingest]\ninputs = ["a.jsonl"]\n[split]\nevalfraction = 0.1\n',
            "[split]: unknown key(s) evalfraction",
        ),
        ('[ingest]\ninputs = ["a.jsonl"]\n[splitt]\n', "unknown section(s) [splitt]"),
        ("[split]\neval_size = 3\n", '[ingest] needs inputs = ["file or glob", ...]'),
        (
            '[run]\nfail_on = "bad"\n[ingest]\ninputs = ["a"]\n',
            "[run] fail_on: expected one of error, warning, info, never, got the string 'bad'",
        ),
        (
            '[ingest]\ninputs = ["a"]\n[dedup]\nenabled = "false"\n',
            "[dedup] enabled: expected true or false (without quotes), got the string 'false'",
        ),
        ('[run]\nworkdir = 5\n[ingest]\ninputs = ["a"]\n', "[run] workdir: expected a non-empty"),
        (
            '[ingest]\ninputs = ["a"]\n[dedup]\nthreshold = 2.0\n',
            "[dedup] threshold: expected a number from 0 to 1, got number 2.0",
        ),
        ('[ingest]\ninputs = ["a"]\n[review]\nenabled = true\n', "[review] enabled needs dataset"),
        ("[ingest\n", "not valid TOML"),
    ],
)
def test_config_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(CurateError) as e:
        load_run_config(cfg)
    assert message in str(e.value)


def test_missing_input_fails_at_ingest(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[ingest]\ninputs = ["nope.jsonl"]\n')
    s = run_config(cfg)
    assert s["exit_code"] == 2 and s["stopped_at"] == "ingest"
    assert "nope.jsonl" in stage(s, "ingest")["message"]


def test_cli_run_json_and_exit_codes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from curate.cli import main

    with pytest.raises(SystemExit) as e:
        main(["run", str(project / "curate.toml"), "--json"])
    out, err = capsys.readouterr()
    assert e.value.code == 0, err
    assert json.loads(out)["stages"][-1]["counts"]["straddling"] == 0
    with pytest.raises(SystemExit) as e:
        main(["run", str(project / "curate.toml")])
    out, _ = capsys.readouterr()
    assert e.value.code == 0
    assert "ok split" in " ".join(out.split())
    with pytest.raises(SystemExit) as e:
        main(["run", str(project / "nope.toml")])
    _, err = capsys.readouterr()
    assert e.value.code == 2
    assert "nope.toml: no such config file" in " ".join(err.split())
    assert "Traceback" not in err


def test_a_single_against_file_is_a_list_of_one(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[ingest]\ninputs = ["a"]\n[dedup]\nagainst = "eval.jsonl"\n')
    assert load_run_config(cfg)["dedup"]["against"] == ["eval.jsonl"]


def test_a_workdir_inside_the_input_glob_is_not_read_back(project: Path) -> None:
    """The second run of a config whose input glob covers its workdir reads the same
    inputs as the first (not its own outputs) and writes the same files."""
    cfg = project / "curate.toml"
    text = cfg.read_text()
    start = text.index("inputs = ")
    end = text.index("\n", start)
    cfg.write_text(text[:start] + 'inputs = ["**/*.json*"]' + text[end:])
    first = run_config(cfg)
    second = run_config(cfg)
    assert first["exit_code"] == second["exit_code"]
    assert stage(first, "ingest")["counts"] == stage(second, "ingest")["counts"]


def test_the_dedup_section_sets_dedup_options(project: Path) -> None:
    """Every key of ``[dedup]`` reaches dedup (none is restated or dropped on the way):
    exact-only finds no near duplicates, the default finds some or the same."""
    cfg = project / "curate.toml"
    text = cfg.read_text()
    base = stage(run_config(cfg), "dedup")["counts"]
    section = '[dedup]\nnear = false\nscope = "user"\n'
    cfg.write_text(text.replace("[dedup]\n", section) if "[dedup]\n" in text else text + section)
    exact = stage(run_config(cfg), "dedup")["counts"]
    assert base["removed_near"] > 0 and exact["removed_near"] == 0
    # comparing user turns only, the same prompt with another answer is a copy too
    assert exact["removed_exact"] > base["removed_exact"]
