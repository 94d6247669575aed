"""The pre-commit hook, driven by the real `pre-commit` tool on a temporary git repository.

The hook repository is a snapshot of this working tree (tracked and untracked files), so
the test covers `.pre-commit-hooks.yaml` and a real `pip install` of the package, the way
a user's pre-commit installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

GOOD = (ROOT / "fixtures/openai/good.jsonl").read_text()
BAD = (ROOT / "fixtures/openai/cookbook_errors.jsonl").read_text()


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, text=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    if shutil.which("pre-commit") is None:
        pytest.fail("pre-commit is not installed: pip install -e '.[dev]'")
    snap = tmp_path_factory.mktemp("hookrepo")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.splitlines()
    for rel in files:
        src = ROOT / rel
        if src.is_file() and not rel.startswith(("tests/", "bench/", "fixtures/")):
            (snap / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, snap / rel)
    git(snap, "init", "-q")
    git(snap, "add", "-A")
    assert git(snap, "commit", "-qm", "snapshot").returncode == 0
    sha = git(snap, "rev-parse", "HEAD").stdout.strip()
    return snap, sha


@pytest.fixture
def user_repo(
    tmp_path: Path, hook_repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    repo_path, sha = hook_repo
    repo = tmp_path / "data-repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo_path}\n    rev: {sha}\n    hooks:\n      - id: curate-validate\n"
    )
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-qm", "config")
    os.environ["PRE_COMMIT_HOME"] = str(tmp_path_factory.getbasetemp() / "pre-commit-home")
    r = subprocess.run(["pre-commit", "install"], cwd=repo, text=True, capture_output=True)
    assert r.returncode == 0, r.stderr
    return repo


def test_bad_jsonl_blocks_the_commit_with_file_and_line(user_repo: Path) -> None:
    (user_repo / "train.jsonl").write_text(BAD)
    git(user_repo, "add", "train.jsonl")
    r = git(user_repo, "commit", "-m", "add data")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "train.jsonl:1: error data_type: example is a JSON array, not an object" in out
    assert "train.jsonl:6: error unrecognized_role (message 0): unrecognized role 'human'" in out
    assert "curate: 10 examples in 1 file(s), 9 invalid" in out
    assert "Failed" in out
    assert (
        git(user_repo, "log", "--oneline").stdout.count("\n") == 1
    )  # still only the config commit


def test_good_jsonl_passes_and_other_files_are_ignored(user_repo: Path) -> None:
    (user_repo / "train.jsonl").write_text(GOOD)
    (user_repo / "notes.json").write_text("not json at all")
    git(user_repo, "add", "train.jsonl", "notes.json")
    r = git(user_repo, "commit", "-m", "add data")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "curate validate (fine-tuning JSONL)" in r.stdout + r.stderr
    assert "Passed" in r.stdout + r.stderr
