"""``curate review`` end to end through the real console script and a real Argilla server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_help_lists_the_commands() -> None:
    res = run("review", "--help")
    assert res.returncode == 0
    for cmd in ("push", "pull", "serve", "stop", "status"):
        assert cmd in res.stdout


def test_no_server_is_a_clear_usage_error(tmp_path: Path) -> None:
    env = {"ARGILLA_API_URL": "", "ARGILLA_API_KEY": "", "CURATE_CACHE_DIR": str(tmp_path)}
    res = run("review", "push", "fixtures/review/chat.jsonl", env=env)
    assert res.returncode == 2
    assert "no Argilla server given. Pass --api-url and --api-key" in res.stderr
    assert "Traceback" not in res.stderr
    res = run("review", "status", env=env)
    assert res.returncode == 1 and "not running" in res.stdout


def test_unreachable_server_and_bad_options(tmp_path: Path) -> None:
    res = run("review", "push", "fixtures/review/chat.jsonl", "--api-url", "http://127.0.0.1:9",
              "--api-key", "k")  # fmt: skip
    assert res.returncode == 2
    assert "cannot reach Argilla at http://127.0.0.1:9" in res.stderr
    res = run("review", "pull", "--dataset", "d", "-i", "fixtures/review/chat.jsonl", "-o",
              str(tmp_path / "o.jsonl"), "--pending", "later")  # fmt: skip
    assert res.returncode == 2
    assert "--pending must be one of keep, drop, fail (got 'later')" in res.stderr


def test_push_pull_json(
    argilla_state: dict[str, Any], chat_file: Path, dataset_name: str, tmp_path: Path
) -> None:
    env = {"ARGILLA_API_URL": argilla_state["url"], "ARGILLA_API_KEY": argilla_state["api_key"]}
    res = run("review", "push", str(chat_file), "--dataset", dataset_name, "--json", env=env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["pushed"], out["read"], out["skipped"]) == (9, 10, {"invalid_json": 1})
    res = run(
        "review", "pull", "--dataset", dataset_name, "-i", str(chat_file),
        "-o", str(tmp_path / "clean.jsonl"), "--audit", str(tmp_path / "audit.jsonl"),
        "--pending", "fail", env=env,
    )  # fmt: skip
    assert res.returncode == 2
    assert "9 reviewed records have no decision yet" in res.stderr
    assert not (tmp_path / "clean.jsonl").exists()
    res = run(
        "review", "pull", "--dataset", dataset_name, "-i", str(chat_file),
        "-o", str(tmp_path / "clean.jsonl"), "--audit", str(tmp_path / "audit.jsonl"), env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "read 10: kept 9 (0 corrected), rejected 1, not reviewed 0; decisions: pending: 9" in (
        " ".join(res.stdout.split())
    )
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 9
