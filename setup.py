"""Optional compiled versions of the content checks' two hot modules.

``pip install`` compiles ``validators/content.py`` and ``validators/text_quality.py`` with
Cython into extension modules of the same names (the same source: ~16% less CPU for the
content checks, the same findings). They are optional: without a C compiler, or with
``CURATE_PURE_PYTHON=1`` in the environment at install time, the build skips them and
the Python modules run. Next to each compiled module the build writes the SHA-256 of the
source it was compiled from; ``curate.validators`` loads a compiled module only while that
still matches the ``.py`` beside it (an edited or checked-out source runs as Python until
the next ``pip install``), and never with ``CURATE_PURE_PYTHON=1`` at run time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: the modules compiled (curate.validators.<name>, from validators/<name>.py), and the suffix
#: of the file beside each that holds its source's SHA-256: the same values as
#: curate.validators.COMPILED and SOURCE_HASH_SUFFIX (a test checks; the build cannot import
#: the package)
COMPILED = ("content", "text_quality")
SOURCE_HASH_SUFFIX = ".source-sha256"


class BuildExt(build_ext):
    """``build_ext`` that writes each compiled module's source hash beside it, and copies
    it along with the module in an in-place (editable) build. A module that fails to
    compile is skipped (the extensions are ``optional``): its Python source runs."""

    def build_extension(self, ext: Any) -> None:
        super().build_extension(ext)
        target = Path(self.get_ext_fullpath(ext.name))
        if target.exists():
            source = Path(getattr(ext, "_curate_source", ""))
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
            Path(f"{target}{SOURCE_HASH_SUFFIX}").write_text(digest + "\n", encoding="ascii")

    def copy_extensions_to_source(self) -> None:
        """An in-place (editable) build: each compiled module's hash file goes with it."""
        super().copy_extensions_to_source()
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            inplace, regular = self._get_inplace_equivalent(build_py, ext)
            if os.path.exists(regular + SOURCE_HASH_SUFFIX):
                self.copy_file(regular + SOURCE_HASH_SUFFIX, inplace + SOURCE_HASH_SUFFIX)


def ext_modules() -> list[Any]:
    if os.environ.get("CURATE_PURE_PYTHON"):
        return []
    try:
        from Cython.Build import cythonize

        exts = [
            Extension(f"curate.validators.{name}", [f"validators/{name}.py"], optional=True)
            for name in COMPILED
        ]
        built = cythonize(
            exts,
            compiler_directives={"language_level": 3, "binding": True},
            quiet=True,
        )
        for ext, name in zip(built, COMPILED, strict=True):
            ext._curate_source = f"validators/{name}.py"  # (its sources are now the .c)
        return list(built)
    except Exception as e:  # no Cython, or a source it cannot compile: pure Python
        print(f"curate: compiled content checks skipped ({type(e).__name__}: {e})")
        return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": BuildExt})
