from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLES = FIXTURES / "samples"  # public sample files (fixtures/SOURCES.md)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Review: no test reads or changes the user's local Argilla server (its data dir and state under
# ~/.cache/curate, found through CURATE_CACHE_DIR) or reaches the server in $ARGILLA_API_URL.
# tests/review/conftest.py starts a server of its own (own data dir and port) and stops it;
# tests/review/test_isolation.py checks this.
USER_CURATE_CACHE = Path(os.environ.get("CURATE_CACHE_DIR") or Path.home() / ".cache" / "curate")
os.environ["CURATE_CACHE_DIR"] = tempfile.mkdtemp(prefix="curate-test-cache-")
atexit.register(shutil.rmtree, os.environ["CURATE_CACHE_DIR"], ignore_errors=True)
os.environ["CURATE_ARGILLA_VENV"] = os.environ.get(
    "CURATE_TEST_ARGILLA_VENV", str(Path.home() / ".cache" / "curate-tests" / "argilla-venv")
)
for _name in ("ARGILLA_API_URL", "ARGILLA_API_KEY"):
    os.environ.pop(_name, None)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def samples() -> Path:
    return SAMPLES


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``curate ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    from curate.cli import main

    code = 0
    try:
        main(args)
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def run_python(script: str) -> str:
    """Run ``script`` in a fresh interpreter (nothing imported yet): its standard output,
    after asserting it exited 0 (the assertion shows its standard error)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def make_jsonl(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(rows: list[Any], name: str = "data.jsonl") -> Path:
        return write_jsonl(tmp_path / name, rows)

    return make


def chromium() -> str | None:
    """The headless browser the UI tests drive (CI installs ``chromium``), if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None
