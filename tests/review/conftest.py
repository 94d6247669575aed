"""Fixtures for the review tests: a real local Argilla server and an SDK client.

The server is the one `.ci/services/argilla.sh` starts (``curate review serve``, default data
dir, port 6900). When it is not running, the first test that needs it starts it (the first
build of its environment takes a minute or two; progress goes to the terminal). Tests skip, with
the reason, only when it can neither be found nor started.
"""

from __future__ import annotations

import shutil
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


@pytest.fixture(scope="session")
def argilla_state() -> dict[str, Any]:
    from curate.records import CurateError
    from curate.review import server

    state = server.status()
    if state["running"]:
        return state
    try:
        return server.serve(server.DEFAULT_PORT, log=_log)
    except (CurateError, OSError) as exc:
        pytest.skip(f"no local Argilla server running and it could not be started: {exc}")


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
