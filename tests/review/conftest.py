"""Fixtures for the review tests: a real local Argilla server and an SDK client.

The tests start their own server (``curate review serve`` through
:func:`curate.review.server.serve`) on a free port with a data dir under pytest's temporary
folder, the first time a test needs it, and stop it when the session ends (one per xdist
worker). They never use the user's ``~/.cache/curate``: tests/conftest.py points
``CURATE_CACHE_DIR`` at a temporary folder and the server's environment at
``~/.cache/curate-tests/argilla-venv`` (``CURATE_TEST_ARGILLA_VENV``), built once (a minute or
two; ``.ci/services/argilla.sh`` builds it in CI). Tests skip, with the reason, only when the
server cannot be started.
"""

from __future__ import annotations

import shutil
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "review" / "chat.jsonl"


def _log(message: str) -> None:
    sys.stderr.write(f"[argilla] {message}\n")
    sys.stderr.flush()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# SIGTERM (a `timeout`, a CI runner giving up) ends the run like Ctrl-C, so the session
# fixture below still stops the server it started (by default SIGTERM skips every teardown)
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _interrupt)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def argilla_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The session's own server: ``status()`` of it (url, api_key, data_dir, ...)."""
    from curate.records import CurateError
    from curate.review import server

    data = tmp_path_factory.mktemp("argilla-server")
    try:
        state = server.serve(free_port(), data, log=_log)
    except (CurateError, OSError) as exc:
        server.stop(data)
        pytest.skip(f"a local Argilla server could not be started: {exc}")
    except BaseException:  # interrupted while starting: stop what did start
        server.stop(data)
        raise
    try:
        yield state
    finally:
        server.stop(data)


@pytest.fixture(scope="session")
def client(argilla_state: dict[str, Any]) -> Any:
    from curate.review.client import connect

    return connect(argilla_state["url"], argilla_state["api_key"])


@pytest.fixture
def dataset_name(client: Any) -> Iterator[str]:
    """A fresh dataset name per test (tests share one server, possibly in parallel); the
    datasets made under it (``NAME`` and ``NAME-*``) are deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    yield name
    http = client.api.http_client
    for ds in http.get("/api/v1/me/datasets").json()["items"]:
        if ds["name"] == name or ds["name"].startswith(f"{name}-"):
            http.delete(f"/api/v1/datasets/{ds['id']}")  # a 404 (already gone) is fine


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    """A copy of the review fixture (so its findings point at a per-test path)."""
    target = tmp_path / "chat.jsonl"
    shutil.copy(FIXTURE, target)
    return target


@pytest.fixture
def reviewers(client: Any) -> Iterator[dict[str, Any]]:
    """Two annotator users in the default user's workspace: {'ana': User, 'bo': User}."""
    import argilla as rg

    suffix = uuid.uuid4().hex[:6]
    users = {}
    for name in ("ana", "bo"):
        user = rg.User(
            username=f"{name}-{suffix}",
            password=f"{name}-password-1",
            role="annotator",
            client=client,
        ).create()
        users[name] = user
    yield users
    for user in users.values():
        try:
            user.delete()
        except Exception:
            pass


@pytest.fixture
def answer() -> Any:
    """``answer(dataset, record_id, user, status="submitted", **values)``."""
    return _answer


def _answer(
    dataset: Any, record_id: str, user: Any, status: str = "submitted", **values: Any
) -> None:
    """A reviewer's answer, sent through the Argilla SDK (as the owner acting for ``user``)."""
    import argilla as rg

    workspace = dataset.workspace
    if user.username not in {u.username for u in workspace.users}:
        workspace.add_user(user.username)
    record = next(r for r in dataset.records(with_responses=True) if r.id == record_id)
    for question, value in values.items():
        record.responses.add(
            rg.Response(question_name=question, value=value, user_id=user.id, status=status)
        )
    dataset.records.log([record])
