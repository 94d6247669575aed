"""The stage contract's shared parts: what every stage counts, rejects and writes.

Every stage (ingest, validate, dedup, split, redact, review pull) reads through
:mod:`curate.io` (one reader), does its work over batches, and writes through this
module:

- :class:`Counts`: ``read`` is counted on its own, as lines or rows arrive, and
  :meth:`Counts.check` asserts ``read == kept + rejected + deduplicated`` at the end;
- :func:`reject_row`: the one shape of a rejected example,
  ``{source, reason, message, findings?, record}``, written to :func:`rejects_path`
  (``OUT.rejected.jsonl``);
- :class:`OutputPlan`: every output path is checked against every input and every other
  output before anything is written (same path, same file through a link, an output
  inside an input folder); the outputs are written to hidden temporary names beside
  their targets and renamed into place together at :meth:`OutputPlan.commit` (a
  ``manifest`` last, and an old manifest removed first, so a kill half-way never leaves
  a manifest describing other files). SIGINT and SIGTERM remove the temporary files;
  those of a killed run (SIGKILL, power loss) are removed by the next run that writes
  the same output;
- :class:`StageResult`: the one result type (counts, outputs, findings) each stage
  returns.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> src = os.path.join(d, "in.jsonl")
    >>> _ = open(src, "w").write("{}\\n")
    >>> plan = OutputPlan([src], "demo")
    >>> out = plan.add("kept", os.path.join(d, "kept.jsonl"))
    >>> with plan.writing():
    ...     _ = plan.open("kept").write("{}\\n")
    ...     _ = plan.commit()
    >>> open(out).read()
    '{}\\n'
    >>> plan.add("oops", src)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    curate.records.CurateError: ... is also an input of demo...
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import sys
import threading
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from curate.records import CurateError, Finding, Location

#: the marker in every temporary output name: ``.<name>.curate-<pid>-<n>.tmp``
TMP_MARK = ".curate-"


class AccountingError(CurateError):
    """A stage's counts do not balance: a bug, never a user error (reported as such)."""


@dataclass
class Counts:
    """What happened to every example a stage read.

    ``read`` is counted where lines or rows are read, independently of the outcomes, so
    :meth:`check` can fail: every example read must be kept, rejected (written to the
    rejects file with a reason) or removed as a duplicate.

    Example:
        >>> c = Counts(read=3, kept=1, rejected=1, deduplicated=1)
        >>> c.check("dedup"); c.to_dict()["read"]
        3
        >>> Counts(read=2, kept=1).check("ingest")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        curate.stage.AccountingError: ingest: read 2 but kept 1 + rejected 0 + deduplicated 0 = 1...
    """

    read: int = 0
    kept: int = 0
    rejected: int = 0
    deduplicated: int = 0

    def check(self, stage: str) -> None:
        total = self.kept + self.rejected + self.deduplicated
        if self.read != total:
            raise AccountingError(
                f"{stage}: read {self.read} but kept {self.kept} + rejected {self.rejected} "
                f"+ deduplicated {self.deduplicated} = {total}; examples were lost or "
                "counted twice. This is a bug in curate: please report it."
            )

    def to_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "kept": self.kept,
            "rejected": self.rejected,
            "deduplicated": self.deduplicated,
        }

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.read + other.read,
            self.kept + other.kept,
            self.rejected + other.rejected,
            self.deduplicated + other.deduplicated,
        )


@dataclass
class StageResult:
    """What a stage returns: its counts, the files it wrote (by role), its findings,
    stage-specific figures in ``extra`` and the stage's own report in ``detail``."""

    stage: str
    counts: Counts
    outputs: dict[str, Path] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the stage's own detailed report (a ValidationReport, a split manifest...)
    detail: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "counts": self.counts.to_dict(),
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "findings": [f.to_dict() for f in self.findings],
            **self.extra,
        }


def reject_row(
    source: Location | dict[str, Any] | str,
    reason: str,
    message: str,
    record: Any,
    findings: Iterable[Finding | dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The one shape of a rejected example: where it came from, a stable ``reason``
    code, a message saying what is wrong and how to fix it, the findings behind it (if
    any), and the original record (or the raw text of a line that did not parse).

    Example:
        >>> row = reject_row(Location("a.jsonl", 3), "invalid_json", "bad", "{x")
        >>> list(row), row["source"]
        (['source', 'reason', 'message', 'record'], {'file': 'a.jsonl', 'line': 3})
    """
    if isinstance(source, Location):
        src: Any = source.to_dict()
    elif isinstance(source, str):
        src = {"file": source}
    else:
        src = source
    row: dict[str, Any] = {"source": src, "reason": reason, "message": message}
    if findings is not None:
        row["findings"] = [f.to_dict() if isinstance(f, Finding) else f for f in findings]
    row["record"] = record
    return row


#: the suffixes :func:`rejects_path` strips from an output's name
_DATA_SUFFIXES = (".jsonl.gz", ".jsonl", ".json", ".parquet", ".csv", ".tsv", ".gz")


def rejects_path(output: str | os.PathLike[str]) -> Path:
    """Where a stage writes the rejects of ``output``: ``OUT.rejected.jsonl`` beside a
    file, ``OUT/rejected.jsonl`` inside an output folder.

    Example:
        >>> rejects_path("out/kept.jsonl").as_posix(), rejects_path("data.parquet").name
        ('out/kept.rejected.jsonl', 'data.rejected.jsonl')
    """
    p = Path(output)
    if p.is_dir():
        return p / "rejected.jsonl"
    name = p.name
    for suffix in _DATA_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return p.with_name(f"{name}.rejected.jsonl")


#: reject file names earlier versions wrote, which later stages still read
OLD_REJECT_SUFFIXES = (".rejects.jsonl", ".rejected.jsonl")


# -- the library API's names ----------------------------------------------------------


class _StageModule(types.ModuleType):
    """A stage's module that is also its library function: once ``curate.validate`` (the
    module) is imported, Python makes it the package's attribute, which would hide the
    function :func:`curate.api.validate` of the same name; calling the module calls it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import curate.api

        return getattr(curate.api, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)


def callable_module(name: str) -> None:
    """Make the module ``name`` (``curate.validate``, ``curate.split``...) callable as the
    library function of the same name (see :class:`_StageModule`)."""
    sys.modules[name].__class__ = _StageModule


# -- the output plan ------------------------------------------------------------------


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def temp_name(target: Path) -> Path:
    """A hidden temporary name beside ``target`` that names this process, so a later
    run can tell a killed run's leftovers (:func:`clean_stale`) from a live writer's."""
    _counter[0] += 1
    return target.with_name(f".{target.name}{TMP_MARK}{os.getpid()}-{_counter[0]}.tmp")


_counter = [0]


def clean_stale(target: Path) -> list[Path]:
    """Remove the temporary files (or folders) a killed run left beside ``target``
    (their writer process no longer exists); returns what was removed."""
    removed: list[Path] = []
    prefix = f".{target.name}{TMP_MARK}"
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for e in entries:
        if not (e.name.startswith(prefix) and e.name.endswith(".tmp")):
            continue
        pid_part = e.name[len(prefix) :].split("-", 1)[0]
        if not pid_part.isdigit() or _pid_alive(int(pid_part)):
            continue
        with contextlib.suppress(OSError):
            if e.is_dir() and not e.is_symlink():
                shutil.rmtree(e)
            else:
                e.unlink()
            removed.append(e)
    return removed


def remove_path(path: Path) -> None:
    """Remove a file or a folder, ignoring one that is already gone."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def write_error(path: str | os.PathLike[str], e: OSError) -> CurateError:
    """A clear error for a failed write: which path, and the likely fix."""
    if e.errno == errno.ENOSPC:
        why = "the disk is full; free space or write elsewhere"
    elif e.errno == errno.EDQUOT:
        why = "the disk quota is exceeded; free space or write elsewhere"
    elif e.errno in (errno.EACCES, errno.EPERM):
        why = "permission denied; choose a folder you can write to"
    elif e.errno == errno.EROFS:
        why = "the file system is read-only; write elsewhere"
    elif e.errno == errno.EISDIR:
        why = "it is a directory; give a file name"
    elif e.errno == errno.ENOTDIR:
        why = "a part of the path is a file, not a folder"
    else:
        why = e.strerror or type(e).__name__
    return CurateError(f"{path}: cannot write: {why}. Nothing was replaced.")


@dataclass
class _Output:
    role: str
    target: Path
    append: bool
    folder: bool
    last: bool = False
    tmp: Path | None = None
    handle: IO[Any] | None = None


class OutputPlan:
    """Every output of one command, checked before anything is written and committed
    together.

    Args:
        inputs: the command's input paths (files or folders, already expanded from
            globs); ``-`` (stdin) is ignored.
        command: the command's name, for messages (``"dedup"``).

    Use :meth:`add` for each output (it raises :class:`CurateError` when an output is
    an input, inside an input folder, or another output), then inside
    :meth:`writing` write each through :meth:`open` (text) or :meth:`temp_path` (a path
    for writers that want one: Parquet, a folder) and call :meth:`commit`.
    """

    def __init__(self, inputs: Iterable[str | os.PathLike[str]], command: str) -> None:
        self.command = command
        self.outputs: dict[str, _Output] = {}
        self._inputs: list[tuple[str, Path, tuple[int, int] | None]] = []
        for i in inputs:
            if str(i) == "-":
                continue
            p = Path(i)
            self._inputs.append((str(i), _real(p), _identity(p)))
        self._committed = False
        #: folders this plan created for its outputs (removed again, when still empty,
        #: if the run ends without a commit: a refused split leaves no empty folder)
        self._made: list[Path] = []

    # -- planning ----------------------------------------------------------------------

    def add(
        self,
        role: str,
        path: str | os.PathLike[str],
        *,
        append: bool = False,
        folder: bool = False,
        last: bool = False,
    ) -> Path:
        """Plan the output ``role`` at ``path``; returns it as a :class:`Path`.

        ``append`` keeps the current content of the file and adds to it (an audit log);
        ``folder`` plans a folder (a saved dataset) instead of a file; ``last`` marks a
        manifest (the role ``"manifest"`` is one): its old file is removed before the
        other outputs are renamed, and it is renamed after them.
        """
        if role in self.outputs:
            raise ValueError(f"output role {role!r} planned twice")
        target = Path(path)
        real = _real(target)
        ident = _identity(target)
        for given, in_real, in_ident in self._inputs:
            same = real == in_real or (ident is not None and ident == in_ident)
            inside = in_real != real and _is_within(real, in_real) and Path(in_real).is_dir()
            if same or inside:
                how = "is also an input" if same else f"is inside the input folder {given}"
                raise CurateError(
                    f"{path}: the {role} output {how} of {self.command}; writing it would "
                    f"destroy the input. Choose another path for the {role} output."
                )
        for other in self.outputs.values():
            if _real(other.target) == real or (
                ident is not None and ident == _identity(other.target)
            ):
                raise CurateError(
                    f"{path}: given for both the {other.role} and the {role} output of "
                    f"{self.command}; one would overwrite the other. Choose two paths."
                )
        if target.is_dir() and not folder:
            raise CurateError(
                f"{path}: is a directory; the {role} output of {self.command} is a file. "
                "Give a file name."
            )
        if target.exists() and folder and not target.is_dir():
            raise CurateError(f"{path}: is a file; the {role} output is a folder.")
        _check_writable(target)
        self.outputs[role] = _Output(role, target, append, folder, last or role == "manifest")
        return target

    def path(self, role: str) -> Path:
        return self.outputs[role].target

    def __contains__(self, role: str) -> bool:
        return role in self.outputs

    # -- writing -----------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[OutputPlan]:
        """The block in which outputs are written. On any exception, SIGINT or SIGTERM
        every temporary file is removed and the targets are left as they were. Call
        :meth:`commit` at the end of the block (not calling it discards the outputs)."""
        for out in self.outputs.values():
            clean_stale(out.target)
        restore = _install_signal_handlers()
        try:
            try:
                yield self
            except OSError as e:
                ours = {str(p) for o in self.outputs.values() for p in (o.tmp, o.target) if p}
                if e.filename is not None and str(e.filename) not in ours:
                    raise  # not an output's (an input's read error, say): as it is
                failed = e.filename or next(iter(self.outputs.values())).target
                raise write_error(_target_of(self, failed), e) from e
            finally:
                self.discard()
        finally:
            restore()

    def _prepare(self, role: str) -> _Output:
        out = self.outputs[role]
        if out.tmp is None:
            missing = [p for p in (out.target.parent, *out.target.parent.parents) if not p.exists()]
            out.target.parent.mkdir(parents=True, exist_ok=True)
            self._made += missing  # deepest first
            out.tmp = temp_name(out.target)
            if out.append and out.target.is_file():
                shutil.copyfile(out.target, out.tmp)
        return out

    def open(self, role: str, mode: str = "w") -> IO[Any]:
        """The file to write the output ``role`` to (text by default, ``"wb"`` for
        bytes); it is closed by :meth:`commit`. An append output starts with the
        current content of its file."""
        out = self._prepare(role)
        if out.handle is None:
            if out.append:
                mode = mode.replace("w", "a")
            if "b" in mode:
                out.handle = open(out.tmp, mode)
            else:
                out.handle = open(out.tmp, mode, encoding="utf-8", newline="\n")
        return out.handle

    def write_text(self, role: str, text: str) -> None:
        """Write the whole of a small output (a config, a manifest) and close it."""
        self.open(role).write(text)
        self.close(role)

    def close(self, role: str) -> Path:
        """Finish writing the output ``role`` before the commit (to hash it, say);
        returns its temporary path."""
        out = self._prepare(role)
        if out.handle is not None:
            out.handle.flush()
            os.fsync(out.handle.fileno())
            out.handle.close()
            out.handle = None
        return out.tmp  # type: ignore[return-value]

    def temp_path(self, role: str) -> Path:
        """The temporary path of the output ``role`` for writers that want a path (it
        does not exist yet, unless the output appends)."""
        return self._prepare(role).tmp  # type: ignore[return-value]

    def commit(self) -> dict[str, Path]:
        """Close the outputs and rename them into place together: an old manifest is
        removed first, the manifest (see :meth:`add`) is renamed last. SIGINT and SIGTERM wait
        until the renames are done. Outputs that were never opened are not written
        (and their old files are left alone). Returns the written paths by role."""
        for role in self.outputs:
            if self.outputs[role].handle is not None:
                self.close(role)
        order = sorted(
            (o for o in self.outputs.values() if o.tmp is not None and o.tmp.exists()),
            key=lambda o: o.last,
        )
        written: dict[str, Path] = {}
        with _signals_deferred():
            for out in order:
                if out.last:
                    remove_path(out.target)
            for out in order:
                assert out.tmp is not None
                try:
                    _replace(out.tmp, out.target, folder=out.folder)
                except OSError as e:
                    raise write_error(out.target, e) from e
                out.tmp = None
                written[out.role] = out.target
        self._committed = True
        return written

    def discard(self) -> None:
        """Remove every temporary file not yet committed (the targets are untouched)."""
        for out in self.outputs.values():
            if out.handle is not None:
                with contextlib.suppress(OSError):
                    out.handle.close()
                out.handle = None
            if out.tmp is not None:
                with contextlib.suppress(OSError):
                    remove_path(out.tmp)
                out.tmp = None
        if not self._committed:
            for folder in self._made:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
        self._made = []


def _target_of(plan: OutputPlan, failed: Any) -> Any:
    """The output a failed temporary path belongs to (messages name the user's path)."""
    for out in plan.outputs.values():
        if out.tmp is not None and str(out.tmp) == str(failed):
            return out.target
    return failed


def _replace(tmp: Path, target: Path, *, folder: bool) -> None:
    if folder and target.is_dir():
        old = temp_name(target)
        os.replace(target, old)
        os.replace(tmp, target)
        remove_path(old)
    else:
        os.replace(tmp, target)


def _real(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _check_writable(target: Path) -> None:
    """Fail early, before any work, when ``target`` cannot be created or replaced."""
    parent = target.parent
    probe = parent
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise CurateError(f"{target}: cannot write: {probe} is a file, not a folder.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CurateError(
            f"{target}: cannot write: permission denied in {probe}. "
            "Choose a folder you can write to."
        )


# -- signals ----------------------------------------------------------------------------


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like SIGINT so every ``finally`` (temporary files) runs."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"terminated by signal {signum}")


def _install_signal_handlers() -> Any:
    """SIGTERM raises :class:`Terminated` (SIGINT already raises KeyboardInterrupt) while
    outputs are being written; returns the function that restores the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    try:
        old = signal.signal(signal.SIGTERM, _raise_terminated)
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Block SIGINT and SIGTERM for a few renames; a signal sent meanwhile is delivered
    right after."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
