"""The local Argilla server: lifecycle (real stop/start, data survives) and the SQL search engine
answering the SDK's searches, filters, progress and metrics through the real server."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
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


def test_a_long_data_dir_gets_a_short_redis_socket(tmp_path: Path) -> None:
    """A unix socket path is limited to ~107 bytes: a deep data dir (pytest-xdist's temporary
    folders are) puts redis's socket in a private folder under the temporary dir instead."""
    short = server.ServerPaths(tmp_path / "a")
    assert short.redis_socket == short.run / "redis.sock"
    deep = server.ServerPaths(tmp_path / ("d" * 120))
    assert len(str(deep.redis_socket)) <= server.MAX_SOCKET_PATH
    assert deep.redis_socket != server.ServerPaths(tmp_path / ("e" * 120)).redis_socket


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


# ------------------------------------------------------------------ credentials and faults
class CommandLines:
    """Every process command line seen while the block runs (polled from /proc every 10 ms),
    to show that no secret is ever passed as an argument, not even to short-lived helpers."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                with contextlib.suppress(OSError):
                    self.seen.add(
                        cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    )
            time.sleep(0.01)

    def __enter__(self) -> CommandLines:  # may be entered again: the lines add up
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
        self.seen.add(ps.stdout)

    def leaked(self, secrets: list[str]) -> list[str]:
        return [s for s in secrets if any(s in line for line in self.seen)]


def _secrets(state: dict[str, Any]) -> list[str]:
    out = [state["api_key"], state["password"]]
    for creds in (state.get("users") or {}).values():
        out += [creds["api_key"], creds["password"]]
    return out


def _modes(data: Path) -> dict[str, str]:
    out = {".": oct(data.stat().st_mode & 0o777)}
    for p in sorted(data.rglob("*")):
        if not p.is_socket():
            out[str(p.relative_to(data))] = oct(p.stat().st_mode & 0o777)
    return out


def test_data_dir_is_private_and_no_secret_is_on_a_command_line(
    argilla_state: dict[str, Any],
) -> None:
    data = Path(argilla_state["data_dir"])
    modes = _modes(data)
    assert modes["."] == "0o700"
    assert modes["argilla/argilla.db"] == modes["server.json"] == "0o600"
    assert {m for p, m in modes.items() if (data / p).is_dir()} == {"0o700"}
    assert {m for p, m in modes.items() if (data / p).is_file()} == {"0o600"}
    with CommandLines() as ps:  # the running server, worker and redis
        pass
    assert any(f"--port {argilla_state['url'].rsplit(':', 1)[1]}" in c for c in ps.seen)
    state = server.read_state(data)
    assert state is not None and ps.leaked(_secrets(state)) == []


def test_commands_find_the_server_serve_started(argilla_state: dict[str, Any]) -> None:
    """`serve --data-dir X` is remembered: status and push find X without --data-dir."""
    data = Path(argilla_state["data_dir"])
    port = int(argilla_state["url"].rsplit(":", 1)[1])
    assert server.serve(port, data)["processes"] == argilla_state["processes"]  # remembers it
    res = subprocess.run(["curate", "review", "status"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"running at {argilla_state['url']}" in res.stdout and str(data) in res.stdout
    assert server.resolve_data_dir() == data
    from curate.review.client import resolve_credentials

    assert resolve_credentials(None, None) == (argilla_state["url"], argilla_state["api_key"])


def _dataset_ids(url: str, key: str, name: str) -> list[str]:
    import httpx

    with httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=60) as http:
        ds = next(d for d in http.get("/api/v1/me/datasets").json()["items"] if d["name"] == name)
        ids: list[str] = []
        while True:
            page = http.get(
                f"/api/v1/datasets/{ds['id']}/records", params={"offset": len(ids), "limit": 1000}
            ).json()["items"]
            ids += [str(r["external_id"]) for r in page]
            if len(page) < 1000:
                return ids


def _records_on_server(url: str, key: str, name: str) -> int:
    import httpx

    try:
        with httpx.Client(base_url=url, headers={"X-Argilla-Api-Key": key}, timeout=5) as http:
            for d in http.get("/api/v1/me/datasets").json()["items"]:
                if d["name"] == name:
                    return int(http.get(f"/api/v1/datasets/{d['id']}/progress").json()["total"])
    except (httpx.HTTPError, ValueError, KeyError):
        return 0
    return 0


@pytest.mark.slow
def test_server_killed_mid_push_then_the_same_command_again(tmp_path: Path) -> None:
    """A lost connection ends push with exit 2, the count pushed and the advice to rerun; the
    same command then completes with every record once. Restarting and rotating the keys put
    no secret on any command line, and the old key stops working."""
    data, port, n = tmp_path / "argilla", _free_port(), 6_000
    env = {**os.environ, "CURATE_CACHE_DIR": str(tmp_path / "cache")}
    with CommandLines() as ps:
        st = server.serve(port, data)
    try:
        src = tmp_path / "big.jsonl"
        src.write_text(
            "".join(
                json.dumps({"id": f"k{i:05d}", "messages": [
                    {"role": "user", "content": f"What is {i} + {i}?"},
                    {"role": "assistant", "content": str(2 * i)}]}) + "\n"
                for i in range(n)
            )
        )  # fmt: skip
        cmd = ["curate", "review", "push", str(src), "--dataset", "killed", "--no-duplicates",
               "--data-dir", str(data)]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)  # fmt: skip
        deadline = time.monotonic() + 240
        # two batches on the server: the first one's answer reached push before it sent
        # the second (one upload at a time), so push has a confirmed count to report
        while _records_on_server(st["url"], st["api_key"], "killed") < 1000:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "push did not start"
            time.sleep(0.05)
        os.killpg(st["processes"]["server"], signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
        err = " ".join(err.split())
        assert proc.returncode == 2, out + err
        assert f"lost the connection to Argilla at {st['url']} after pushing" in err
        assert "Run the same command again" in err and "Traceback" not in err
        pushed = int(re.search(r"after pushing (\d+) of", err).group(1))  # type: ignore[union-attr]
        assert 0 < pushed < n  # confirmed by the server before it went away

        with ps:
            again = server.serve(port, data)
        res = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["pushed"] == n
        ids = _dataset_ids(again["url"], again["api_key"], "killed")
        assert len(ids) == n and set(ids) == {f"k{i:05d}" for i in range(n)}

        old = server.read_state(data)
        assert old is not None
        with ps:
            server.rotate_credentials(data)
        new = server.read_state(data)
        assert new is not None and new["api_key"] != old["api_key"]
        assert ps.leaked(_secrets(old) + _secrets(new)) == []
        assert not server._healthy(again["url"], old["api_key"])
        assert server._healthy(again["url"], new["api_key"])
        assert _modes(data)["argilla/argilla.db"] == "0o600"
    finally:
        server.stop(data)


def test_serve_users_and_users_add_make_reviewer_accounts(argilla_state: dict[str, Any]) -> None:
    """`serve --users 2` (idempotent on a running server) and `users add` make annotators that
    can sign in with the credentials kept in the 0600 state file."""
    from curate.review.client import connect

    data = Path(argilla_state["data_dir"])
    port = int(argilla_state["url"].rsplit(":", 1)[1])
    st = server.serve(port, data, users=2)
    assert {"reviewer-1", "reviewer-2"} <= set(st["reviewers"])
    res = subprocess.run(
        ["curate", "review", "users", "add", "carla-x", "--data-dir", str(data), "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    state = server.read_state(data)
    assert state is not None and made["carla-x"] == state["users"]["carla-x"]
    for name in ("reviewer-1", "carla-x"):
        me = connect(argilla_state["url"], state["users"][name]["api_key"]).me
        assert (me.username, me.role) == (name, "annotator")
    again = server.serve(port, data, users=2)  # nothing new: the accounts exist
    assert sorted(again["reviewers"]) == sorted({*st["reviewers"], "carla-x"})
