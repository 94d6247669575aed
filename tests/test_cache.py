"""The one on-disk cache: entries keyed by versions, checked by their SHA-256, written
atomically, the least recently used pruned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from curate.cache import Cache, cache_root


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))


def test_file_entries_round_trip_and_a_damaged_one_reads_as_missing(tmp_path: Path) -> None:
    c = Cache("things", keep=4)
    assert c.dir == tmp_path / "curate" / "things" == cache_root() / "things"
    k = c.key("lib 1.0", b"source")
    assert k == c.key("lib 1.0", b"source") != c.key("lib 1.1", b"source")
    assert c.read(k) is None
    c.write(k, b"payload")
    assert c.read(k) == b"payload"
    blob = (c.dir / k).read_bytes()
    (c.dir / k).write_bytes(blob[:-1] + b"X")  # damaged: the hash no longer matches
    assert c.read(k) is None
    c.write(k, b"payload")  # rebuilt
    assert c.read(k) == b"payload"


def test_the_least_recently_used_entries_are_pruned() -> None:
    c = Cache("things", keep=2)
    keys = [c.key(i) for i in range(4)]
    for i, k in enumerate(keys[:3]):
        Cache("things", keep=10).write(k, b"x")
        os.utime(c.dir / k, (1_000_000 + i, 1_000_000 + i))
    (c.dir / ".someone-elses.tmp").write_bytes(b"being written")  # left alone
    assert c.read(keys[0]) == b"x"  # used: kept, whatever its age
    c.write(keys[3], b"y")
    assert sorted(p.name for p in c.dir.iterdir()) == sorted(
        [".someone-elses.tmp", keys[0], keys[3]]
    )


def test_folder_entries_appear_whole_or_not_at_all() -> None:
    c = Cache("models", keep=1)

    def build(tmp: Path) -> None:
        (tmp / "a.bin").write_bytes(b"a")
        (tmp / "b.bin").write_bytes(b"b")

    def fail(tmp: Path) -> None:
        (tmp / "a.bin").write_bytes(b"a")
        raise OSError("disk full")

    assert c.folder("broken", fail) is None
    assert not (c.dir / "broken").exists() and not list(c.dir.iterdir())  # no half entry
    path = c.folder("v1", build)
    assert path is not None and sorted(p.name for p in path.iterdir()) == ["a.bin", "b.bin"]
    assert c.folder("v1", fail) == path  # present: not built again
    c.folder("v2", build)
    assert sorted(p.name for p in c.dir.iterdir()) == ["v2"]  # keep=1
    c.drop("v2")
    assert not list(c.dir.iterdir())


def test_a_read_only_cache_is_skipped_not_an_error(tmp_path: Path) -> None:
    c = Cache("things", keep=2)
    c.dir.parent.mkdir(parents=True)
    c.dir.write_bytes(b"a file where the folder should be")
    c.write(c.key(1), b"x")  # no error
    assert c.read(c.key(1)) is None
    assert c.folder("v1", lambda tmp: None) is None
