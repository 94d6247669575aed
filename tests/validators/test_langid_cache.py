"""The cached py3langid model is the library's model: same arrays, same answers; a
damaged cache is rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("py3langid")

from curate.validators import langid_cache


def _typecode(table) -> str:
    return table.typecode if hasattr(table, "typecode") else table.format


def _same_model(a, b) -> None:
    # the cache keeps the library's float16 table as float32: every value exactly
    assert np.array_equal(a.nb_ptc, b.nb_ptc)
    assert a.nb_pc.dtype == b.nb_pc.dtype and np.array_equal(a.nb_pc, b.nb_pc)
    assert a.nb_classes == b.nb_classes
    # the library's table is an array, the cache's a memory-mapped view of the same values
    assert _typecode(a.tk_nextmove) == _typecode(b.tk_nextmove)
    assert memoryview(a.tk_nextmove).tobytes() == memoryview(b.tk_nextmove).tobytes()
    assert list(a.tk_row) == list(b.tk_row) and a.tk_output == b.tk_output
    assert a._alias_pairs == b._alias_pairs


def _texts(fixtures: Path) -> list[str]:
    out = ["Das ist ein deutscher Satz.", "这是一个中文句子。", "Ceci est une phrase.", "", "1234"]
    for f in sorted((fixtures / "content").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            for m in json.loads(line).get("messages", []):
                if isinstance(m.get("content"), str):
                    out.append(m["content"][:250])
    return out


def test_cached_model_answers_as_the_library_does(tmp_path, monkeypatch, fixtures) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    library = langid_cache.load_identifier(cache=False)
    first = langid_cache.load_identifier()  # builds the cache
    (folder,) = (tmp_path / "curate" / "langid").iterdir()
    cached = langid_cache.load_identifier()  # reads it
    _same_model(library, first)
    _same_model(library, cached)
    assert library.nb_ptc.dtype == np.float16 and cached.nb_ptc.dtype == np.float32
    assert isinstance(cached.tk_nextmove, memoryview)  # mapped, not read
    for text in _texts(fixtures):
        assert cached.classify(text) == library.classify(text), text
    # damaged (cut short): not used, rebuilt
    data = (folder / "nextmove.bin").read_bytes()
    (folder / "nextmove.bin").write_bytes(data[: len(data) // 2])
    assert langid_cache._load_cached(folder) is None
    _same_model(library, langid_cache.load_identifier())
    assert langid_cache._load_cached(folder) is not None
