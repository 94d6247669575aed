"""The local Argilla server: lifecycle (real stop/start, data survives) and the SQL search engine
answering the SDK's searches, filters, progress and metrics through the real server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from curate.review import server
from curate.review import sql_search_engine as engine
from curate.review.push import push


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_of_a_missing_server(tmp_path: Path) -> None:
    st = server.status(tmp_path / "none")
    assert st["running"] is False
    assert st["processes"] == {"redis": None, "server": None, "worker": None}
    assert server.stop(tmp_path / "none") == []


def test_stale_pid_files_never_name_a_foreign_process(tmp_path: Path) -> None:
    """After a reboot a pid file may name an unrelated live process: it must be left alone."""
    import os

    paths = server.ServerPaths(tmp_path)
    paths.run.mkdir(parents=True)
    paths.pid_file("server").write_text(f"{os.getpid()} 1")  # our pid, another start time
    assert server.status(tmp_path)["processes"]["server"] is None
    assert server.stop(tmp_path) == []  # and this test process is still alive
    paths.pid_file("server").write_text(f"{os.getpid()} {server._start_time(os.getpid())}")
    assert server.status(tmp_path)["processes"]["server"] == os.getpid()


def test_engine_helpers_outside_the_server() -> None:
    assert engine.HAVE_SERVER is False  # the toolkit's env has no argilla_server
    assert engine._terms_match(["a", "b"], ["b"]) is True
    assert engine._terms_match(None, ["b"]) is False
    assert engine._range_match(5, 1, 5) is True
    assert engine._range_match([0, 9], 1, 5) is False
    assert (
        engine._field_text([{"role": "user", "content": "Hi"}, {"content": "there"}]) == "Hi\nthere"
    )


def test_sql_search_engine_through_the_sdk(
    client: Any, chat_file: Path, dataset_name: str, reviewers: dict[str, Any], answer: Any
) -> None:
    import argilla as rg

    push(chat_file, dataset=dataset_name, client=client)
    ds = client.datasets(dataset_name)
    answer(ds, "rv-01", reviewers["ana"], decision="accept", quality=4)

    def ids(query: Any) -> list[str]:
        return sorted(r.id for r in ds.records(query=query))

    assert ids(rg.Query(query="Lisbon")) == ["rv-01"]
    assert ids(rg.Query(query="flight rome")) == ["rv-03", "rv-04"]
    assert ids(rg.Query(filter=rg.Filter(("metadata.severity", "==", "warning")))) == ["rv-04"]
    assert ids(rg.Query(filter=rg.Filter(("metadata.severity", "in", ["error", "warning"])))) == [
        "rv-04",
        "rv-06",
    ]
    assert ids(rg.Query(filter=rg.Filter(("metadata.turns", ">=", 5)))) == ["rv-08"]
    assert ids(rg.Query(filter=rg.Filter(("decision.suggestion", "==", "reject")))) == ["rv-04"]
    assert ids(rg.Query(filter=rg.Filter(("decision.response", "==", "accept")))) == ["rv-01"]
    assert ids(rg.Query(filter=rg.Filter(("response.status", "==", "submitted")))) == ["rv-01"]
    assert len(ids(rg.Query(filter=rg.Filter(("response.status", "==", "pending"))))) == 8
    assert ids(rg.Query(filter=rg.Filter(("status", "==", "completed")))) == ["rv-01"]
    assert ids(
        rg.Query(
            query="Paris",
            filter=rg.Filter([("metadata.finding_codes", "in", ["exact_duplicate"])]),
        )
    ) == ["rv-04"]

    http = client.api.http_client
    progress = http.get(f"/api/v1/datasets/{ds.id}/progress").json()
    assert (progress["total"], progress["completed"], progress["pending"]) == (9, 1, 8)
    tokens = next(m for m in ds.settings.metadata if m.name == "tokens")
    metrics = http.get(f"/api/v1/metadata-properties/{tokens.id}/metrics").json()
    assert 0 < metrics["min"] <= metrics["max"]
    codes = next(m for m in ds.settings.metadata if m.name == "finding_codes")
    terms = http.get(f"/api/v1/metadata-properties/{codes.id}/metrics").json()
    assert {v["term"]: v["count"] for v in terms["values"]} == {
        "none": 7,
        "exact_duplicate": 1,
        "last_not_assistant": 1,
        "example_missing_assistant_message": 1,
    }


@pytest.mark.slow
def test_restart_keeps_the_data(tmp_path: Path) -> None:
    """Stop and start a real server (its own data dir and port) and find everything again."""
    from curate.review.client import connect

    data, port = tmp_path / "argilla", _free_port()
    st = server.serve(port, data)
    try:
        assert st["running"] and st["url"] == f"http://127.0.0.1:{port}"
        assert server.serve(port, data)["processes"] == st["processes"]  # idempotent
        client = connect(st["url"], st["api_key"])
        src = tmp_path / "one.jsonl"
        src.write_text(
            '{"id": "k1", "messages": [{"role": "user", "content": "2+2?"}, '
            '{"role": "assistant", "content": "4"}]}\n'
        )
        push(src, dataset="survives", client=client)
        stopped = server.stop(data)
        assert stopped == ["worker", "server", "redis"]
        down = server.status(data)
        assert down["running"] is False and set(down["processes"].values()) == {None}

        again = server.serve(port, data)
        assert again["running"]
        assert (again["api_key"], again["password"]) == (st["api_key"], st["password"])
        client = connect(again["url"], again["api_key"])
        records = list(client.datasets("survives").records)
        assert [r.id for r in records] == ["k1"]
        assert (data / "argilla" / "argilla.db").is_file()
        assert oct((data / "server.json").stat().st_mode & 0o777) == "0o600"
    finally:
        server.stop(data)
