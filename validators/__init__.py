"""The checks: one module per family (format, length, duplicates, content...).

Two modules, ``content`` and ``text_quality`` (the content checks' per-string work), may
also be installed compiled (``setup.py``: the same source through Cython, ~16% less CPU).
Python's own import would take a compiled file beside the source even when the source
has changed since; here a compiled module is imported only while the SHA-256 of the source
recorded beside it at build time matches the ``.py`` (an edited or newly checked-out
source runs as Python until the next ``pip install``), and never with
``CURATE_PURE_PYTHON=1`` in the environment.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path
from types import ModuleType

#: modules that may exist compiled (setup.py builds them)
COMPILED = ("content", "text_quality")
#: suffix of the file beside a compiled module that holds its source's SHA-256
SOURCE_HASH_SUFFIX = ".source-sha256"
_FOLDER = Path(__file__).resolve().parent


def compiled_module(folder: Path, name: str) -> Path | None:
    """The compiled module ``name`` in ``folder`` when it is current (the source hash
    recorded beside it is the hash of ``folder/name.py``), else ``None``; always ``None``
    with ``CURATE_PURE_PYTHON`` set."""
    if os.environ.get("CURATE_PURE_PYTHON"):
        return None
    for suffix in EXTENSION_SUFFIXES:
        built = folder / f"{name}{suffix}"
        if built.is_file():
            try:
                recorded = Path(f"{built}{SOURCE_HASH_SUFFIX}").read_text(encoding="ascii")
                current = hashlib.sha256((folder / f"{name}.py").read_bytes()).hexdigest()
            except OSError:
                return None
            return built if recorded.strip() == current else None
    return None


class CompiledOrSource:
    """Meta-path finder for ``curate.validators.content`` and ``.text_quality``: the
    compiled module when :func:`compiled_module` finds it current, else the ``.py``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != "curate.validators" or name not in COMPILED:
            return None
        source = _FOLDER / f"{name}.py"
        if not source.is_file():
            return None  # not installed as files (a zip...): Python's own finders
        return spec_from_file_location(fullname, compiled_module(_FOLDER, name) or source)


if __name__ == "curate.validators" and not any(
    isinstance(f, CompiledOrSource) for f in sys.meta_path
):
    sys.meta_path.insert(0, CompiledOrSource())
