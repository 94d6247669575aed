"""The optional compiled content modules (setup.py) and the finder that picks them."""

from __future__ import annotations

import hashlib
import json
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import curate.validators as pkg
from curate.validators import content as content_mod
from tests.conftest import run_python

SUFFIX = EXTENSION_SUFFIXES[0]


def _build(folder: Path, source: str, recorded: str | None) -> Path:
    (folder / "mod.py").write_text(source, encoding="utf-8")
    built = folder / f"mod{SUFFIX}"
    built.write_bytes(b"\x7fELF not really")
    if recorded is not None:
        Path(f"{built}{pkg.SOURCE_HASH_SUFFIX}").write_text(recorded + "\n", encoding="ascii")
    return built


def test_a_compiled_module_is_used_only_while_its_source_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CURATE_PURE_PYTHON", raising=False)
    source = "X = 1\n"
    built = _build(tmp_path, source, hashlib.sha256(source.encode()).hexdigest())
    assert pkg.compiled_module(tmp_path, "mod") == built
    (tmp_path / "mod.py").write_text("X = 2\n", encoding="utf-8")  # edited since the build
    assert pkg.compiled_module(tmp_path, "mod") is None
    _build(tmp_path, source, None)  # no recorded hash: not trusted
    Path(f"{built}{pkg.SOURCE_HASH_SUFFIX}").unlink()
    assert pkg.compiled_module(tmp_path, "mod") is None
    assert pkg.compiled_module(tmp_path, "other") is None  # nothing compiled
    _build(tmp_path, source, hashlib.sha256(source.encode()).hexdigest())
    monkeypatch.setenv("CURATE_PURE_PYTHON", "1")
    assert pkg.compiled_module(tmp_path, "mod") is None


def test_the_finder_answers_only_for_the_compiled_modules() -> None:
    finder = pkg.CompiledOrSource()
    assert finder.find_spec("curate.validators.pii") is None
    assert finder.find_spec("validators.content") is None  # pytest's doctest import
    spec = finder.find_spec("curate.validators.content")
    assert spec is not None and spec.origin is not None
    compiled = pkg.compiled_module(Path(pkg.__file__).parent, "content")
    assert spec.origin == str(compiled or Path(pkg.__file__).parent / "content.py")


_FINDINGS = """
import json, sys
from pathlib import Path
from curate.io import parse_line
from curate.records import Example
from curate.validators import content, text_quality
rows = []
(check,) = content.content_validators()
for path in sorted(Path(sys.argv[1]).glob("*.jsonl")):
    exs = [parse_line(str(path.name), i + 1, line)
           for i, line in enumerate(path.read_bytes().splitlines())]
    exs = [e for e in exs if isinstance(e, Example)]
    for found in check.check_many(exs):
        rows += [[f.code, str(f.location), f.message, f.data] for f in found]
print(json.dumps({"files": [content.__file__, text_quality.__file__], "rows": rows}))
"""


def test_compiled_and_pure_python_find_the_same(fixtures: Path) -> None:
    """Every finding on the content fixtures, in order, from the compiled modules (when
    this install built them) and from the Python source (``CURATE_PURE_PYTHON=1``)."""
    folder = fixtures / "content"
    script = f"import sys; sys.argv[1:] = [{str(folder)!r}]\n" + _FINDINGS
    pure = json.loads(run_python("import os; os.environ['CURATE_PURE_PYTHON'] = '1'\n" + script))
    assert all(f.endswith(".py") for f in pure["files"])
    assert len(pure["rows"]) > 20
    default = json.loads(run_python(script))
    assert default["rows"] == pure["rows"]
    if all(f.endswith(".py") for f in default["files"]):
        pytest.skip("this install has no compiled content modules (no C compiler at install)")
    assert content_mod.__file__ in default["files"]  # this process loaded the same ones


def test_the_build_compiles_what_the_finder_looks_for() -> None:
    text = (Path(pkg.__file__).parent.parent / "setup.py").read_text(encoding="utf-8")
    text = text.replace('"', "'")
    assert f"COMPILED = {pkg.COMPILED!r}" in text
    assert f"SOURCE_HASH_SUFFIX = {pkg.SOURCE_HASH_SUFFIX!r}" in text
