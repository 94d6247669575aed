"""The test suite never touches the user's own Argilla server: not its data dir and state under
``~/.cache/curate``, not the server in ``$ARGILLA_API_URL``, and it stops every server it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from curate.review import server

REPO = Path(__file__).resolve().parents[2]


def test_the_review_state_of_the_tests_is_their_own(argilla_state: dict[str, Any]) -> None:
    user_cache = (Path.home() / ".cache" / "curate").resolve()
    test_cache = server.cache_root().resolve()
    assert test_cache != user_cache and not test_cache.is_relative_to(user_cache)
    for path in (server.default_data_dir(), server.pointer_file(), server.default_venv_dir()):
        assert not path.resolve().is_relative_to(user_cache), path
    assert "ARGILLA_API_URL" not in os.environ and "ARGILLA_API_KEY" not in os.environ
    data = Path(argilla_state["data_dir"])
    assert not data.is_relative_to(user_cache)
    assert argilla_state["url"] != f"http://127.0.0.1:{server.DEFAULT_PORT}"


def _processes_under(folder: Path) -> list[int]:
    """Live processes whose working directory is inside ``folder`` (servers run in their
    data dir)."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            target = Path(os.readlink(cwd))
        except OSError:
            continue
        if target.is_relative_to(folder):
            found.append(int(cwd.parent.name))
    return found


@pytest.mark.slow
def test_a_test_session_stops_its_server_and_leaves_home_alone(tmp_path: Path) -> None:
    """Run a review test in a child pytest whose HOME is empty: it starts a server, passes,
    and afterwards no process of that server is left and HOME has no Argilla state."""
    home = tmp_path / "home"
    home.mkdir()
    basetemp = tmp_path / "child"
    env = {
        **os.environ,
        "HOME": str(home),
        "CURATE_TEST_ARGILLA_VENV": os.environ["CURATE_ARGILLA_VENV"],  # built once, reused
        "ARGILLA_API_URL": "http://127.0.0.1:9",  # a user's server: must not be used
        "ARGILLA_API_KEY": "the-users-key",
    }
    env.pop("CURATE_CACHE_DIR", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    test = "tests/review/test_push.py::test_push_only_flagged_and_sample"
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         f"--basetemp={basetemp}", test],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout + res.stderr
    assert _processes_under(basetemp) == []
    cache = home / ".cache" / "curate"
    assert not (cache / "argilla-server").exists() and not (cache / "review-server.json").exists()
