"""The one on-disk cache: what curate builds once and then loads fast.

Every cache lives in ``$XDG_CACHE_HOME/curate/<name>`` (default ``~/.cache/curate/<name>``),
one entry per key. A key is a hash of the versions the entry was built from (the library's
version, the source file that builds it, the Python version...), so an upgrade builds a new
entry instead of reading a stale one. An entry is

- a file (:meth:`Cache.read` / :meth:`Cache.write`): its first 32 bytes are the SHA-256 of
  the rest, checked at every read; a missing, damaged or unreadable entry reads as
  ``None`` and is built again;
- or a folder (:meth:`Cache.folder`): built under a temporary name and renamed into place,
  so a reader sees all of its files or none (for files that are memory-mapped, where
  hashing them at every load would cost more than the cache saves).

Writing is best effort: a read-only or full disk just skips it. After each write the least
recently used entries past ``keep`` are deleted (a read marks an entry as used).

Users (one ``Cache`` each): the parsed tiktoken rank files (:mod:`curate.tokens`),
detect-secrets' patterns (:mod:`curate.validators.secrets`), py3langid's model
(:mod:`curate.validators.langid_cache`) and the prefilter's database
(:mod:`curate.validators.prefilter`). (The rank files themselves are tiktoken's own
cache, in its format, under ``~/.cache/curate/tiktoken``: tiktoken checks them.)

Example:
    >>> import tempfile, os
    >>> os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp()
    >>> c = Cache("example", keep=2)
    >>> k = c.key("v1")
    >>> c.read(k) is None
    True
    >>> c.write(k, b"payload")
    >>> c.read(k)
    b'payload'
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/curate`` (default ``~/.cache/curate``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "curate"


class Cache:
    """The cache folder ``name``, keeping the ``keep`` most recently used entries."""

    def __init__(self, name: str, *, keep: int) -> None:
        self.name = name
        self.keep = keep

    @property
    def dir(self) -> Path:
        return cache_root() / self.name

    def key(self, *versions: object) -> str:
        """A key for an entry built from ``versions`` (plus the Python version: marshal
        and pickle formats change with it)."""
        parts = (sys.version_info[:2], *versions)
        return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def read(self, key: str) -> bytes | None:
        """The payload of file entry ``key``, or ``None`` when missing or damaged."""
        path = self.dir / key
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        digest, payload = blob[:32], blob[32:]
        if hashlib.sha256(payload).digest() != digest:
            return None
        _touch(path)
        return payload

    def write(self, key: str, payload: bytes) -> None:
        """Store ``payload`` as file entry ``key`` (atomically), then prune."""
        from curate.io import atomic_write

        path = self.dir / key
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, "wb") as f:
                f.write(hashlib.sha256(payload).digest() + payload)
        except OSError:  # read-only home, full disk
            return
        self.prune(path)

    def folder(self, key: str, build: Callable[[Path], None]) -> Path | None:
        """The folder entry ``key``, first built by ``build(tmp)`` (which writes its files
        into ``tmp``) when missing; ``None`` when it cannot be built here."""
        path = self.dir / key
        if path.is_dir():
            _touch(path)
            return path
        tmp = path.with_name(f".{key}.tmp-{os.getpid()}")
        try:
            tmp.mkdir(parents=True, exist_ok=True)
            build(tmp)
            os.rename(tmp, path)
        except OSError:  # another process won the race, read-only home, full disk
            shutil.rmtree(tmp, ignore_errors=True)
            return path if path.is_dir() else None
        self.prune(path)
        return path

    def used(self, key: str) -> None:
        """Mark entry ``key`` as just used (pruning keeps the most recently used)."""
        _touch(self.dir / key)

    def drop(self, key: str) -> None:
        """Delete entry ``key`` (one found damaged), file or folder."""
        path = self.dir / key
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):
            path.unlink()

    def prune(self, current: Path) -> None:
        """Delete all but the ``keep`` most recently used entries (``current`` counts as
        just used). Temporary entries of other processes are left alone."""
        _touch(current)
        try:
            entries = [e for e in self.dir.iterdir() if not e.name.startswith(".")]  # (temps)
            entries.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
        except OSError:
            return
        for old in entries[self.keep :]:
            if old != current:
                shutil.rmtree(old, ignore_errors=True)
                with contextlib.suppress(OSError):
                    old.unlink()


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only cache is still used
        os.utime(path)


__all__ = ["Cache", "cache_root"]
