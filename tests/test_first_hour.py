"""Issue 22 ("a new user's first hour"): CLI messages a new user meets (items 8, 10, 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.cli import main
from tests.conftest import FIXTURES


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, " ".join(err.split())


# -- item 12: --method sklearn --stratify-by tokens -------------------------------------------


def test_sklearn_stratified_split_that_cannot_work_says_why_in_curates_words(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("sklearn")
    chat = str(FIXTURES / "split/chat.jsonl")
    args = ("split", chat, "-o", str(tmp_path / "out"), "--method", "sklearn")
    code, _, err = run(capsys, *args, "--stratify-by", "tokens")
    assert code == 2
    assert err.startswith(
        "error: --method sklearn cannot stratify: 1 of the 5 strata hold a single group"
    )
    assert "Use the default --method hash" in err
    assert "least populated class" not in err and "Traceback" not in err  # not sklearn's text
    assert not list((tmp_path / "out").glob("*"))  # nothing written
    # too small an eval side for the number of strata
    code, _, err = run(capsys, *args, "--stratify-by", "source.format", "--eval-size", "1")
    assert code == 2
    assert err.startswith(
        "error: --method sklearn cannot stratify: eval would hold 1 groups, fewer than the 2 strata"
    )
    # the same options with the default method work
    code, out, err = run(
        capsys, "split", chat, "-o", str(tmp_path / "h"), "--stratify-by", "tokens"
    )
    assert code == 0, err
    assert "eval 12" in out


# -- item 8: notes about extras only when the user asked for what needs them ------------------


def test_core_validate_prints_no_notes_about_extras_it_was_not_asked_for(tmp_path: Path) -> None:
    from tests.test_core_install import run_core

    good = str(FIXTURES / "openai/good.jsonl")
    plain = run_core(["validate", good], tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "note:" not in plain.stderr and "curate[content]" not in plain.stderr
    hook = run_core(["validate", "--style", "compact", good], tmp_path)  # what the hook runs
    assert hook.returncode == 0 and "note:" not in hook.stderr
    # asked for: --content, or a [tool.curate.content] section
    asked = run_core(["validate", good, "--content"], tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "note: detect-secrets is not installed" in asked.stderr
    assert "pip install 'curate[content]'" in " ".join(asked.stderr.split())
    (tmp_path / "pyproject.toml").write_text('[tool.curate.content]\nlanguage_mismatch = "error"\n')
    configured = run_core(["validate", good], tmp_path)
    assert "note: py3langid is not installed" in configured.stderr, configured.stderr


def test_readme_shows_the_content_extra_for_the_pre_commit_hook() -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    hook = readme.split("## Pre-commit", 1)[1].split("\n## ", 1)[0]
    assert 'additional_dependencies: ["curate[content]"]' in hook


# -- item 10: help and usage errors ---------------------------------------------------------


def test_help_is_not_cut_at_wide_terminals_and_shows_no_python_list_types(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "--help")
    assert code == 0
    commands = out.split("Commands:", 1)[1]
    assert "..." not in commands.replace("(<EMAIL>, <SECRET>...)", "")
    assert "format (OpenAI cookbook parity), length, tokens, cost." in commands
    for cmd in ("validate", "dedup", "ingest", "lengths", "profile", "report", "split", "run"):
        code, out, _ = run(capsys, cmd, "--help")
        assert code == 0
        assert "<list[" not in out, cmd
    code, out, _ = run(capsys, "lengths", "--help")
    assert "--keep <float>..." in out


def test_bad_choice_lists_the_valid_values_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    good = str(FIXTURES / "openai/good.jsonl")
    code, _, err = run(capsys, "validate", good, "--fail-on", "warnings")
    assert code == 2
    assert "Value error" not in err
    err = " ".join(err.translate(str.maketrans("│╭╮╰╯─", "      ")).split())  # the box
    assert "'warnings' is not one of: error, warning, info, never. Did you mean 'warning'?" in err
