"""A faster load of py3langid's model: its arrays kept uncompressed on disk.

py3langid ships its model as an LZMA-compressed ``.npz``; decompressing it costs ~0.45 s
of CPU in every process that identifies a language (each ``curate validate`` worker).
The first load here reads it the library's way, then writes the same values to the cache
(:mod:`curate.cache`: ``~/.cache/curate/langid/<key>/``, ~90 MB, two versions kept);
later loads take ~0.01 s: the transition table (~40 MB) and the class-probability table
are memory-mapped (the library only indexes them; forked workers share their pages). The
class-probability table is stored as float32 (each of its float16 values exactly: the
scores do not change, and a classification no longer converts the rows it takes).
The key covers the model file (path, size, modification time), py3langid's version and
this module, so a new model or library builds a new cache. A
missing, partial or unreadable cache, or a py3langid without the internals used here
(``_load_model_file``, the ``LanguageIdentifier`` constructor), falls back to the
library's own load: the identifier is the same either way (a test compares the arrays and
the answers).

Example:
    >>> idf = load_identifier()
    >>> idf is None or idf.classify("Das ist ein deutscher Satz.")[0] == "de"
    True
"""

from __future__ import annotations

import mmap
from array import array
from pathlib import Path
from typing import Any

from curate.cache import Cache

try:
    import numpy as np
    import py3langid
    import py3langid.langid as _langid
except ImportError:  # pragma: no cover - only without the [content] extra
    _langid = None


_CACHE = Cache("langid", keep=2)


def _model_path() -> Path:
    assert _langid is not None
    return Path(_langid.MODEL_DIR / _langid.MODEL_FILE).absolute()


def _key(path: Path) -> str:
    st = path.stat()
    version = getattr(py3langid, "__version__", "")
    return _CACHE.key(str(path), st.st_size, st.st_mtime_ns, version, Path(__file__).read_bytes())


def _load_cached(folder: Path) -> tuple[Any, ...] | None:
    """The model tuple ``(ptc, pc, classes, nextmove, row, output)`` from a cache folder,
    or ``None`` when a file is missing or its length is not the recorded one."""
    try:
        ptc = np.load(folder / "ptc32.npy", mmap_mode="r", allow_pickle=False)
        with np.load(folder / "rest.npz", allow_pickle=False) as rest:
            pc = rest["pc"]
            classes = rest["classes"].tolist()
            output = rest["out"].tolist()
            codes = str(rest["typecodes"])
            n_next, n_row = (int(x) for x in rest["lengths"])
        row = array(codes[1])
        # the transition table (~40 MB) memory-mapped, not read: indexing a memoryview
        # of it walks as fast as an array (the library only indexes it), loading takes
        # ~0.1 ms instead of ~60, and forked workers share the pages
        with open(folder / "nextmove.bin", "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        nextmove = memoryview(mapped).cast(codes[0])
        if len(nextmove) != n_next:
            return None
        with open(folder / "row.bin", "rb") as f:
            row.fromfile(f, n_row)
            if f.read(1):
                return None
        if ptc.ndim != 2 or ptc.shape[1] != len(classes) or len(pc) != len(classes):
            return None
        if len(row) != len(output):
            return None
        return ptc, pc, classes, nextmove, row, output
    except Exception:
        return None


def _write(model: tuple[Any, ...], folder: Path) -> None:
    """Write the model's arrays into ``folder`` (the cache renames it into place)."""
    ptc, pc, classes, nextmove, row, output = model
    # float32: every float16 is exactly a float32, and the scoring (float32 counts times
    # rows of this table) converted the rows it took on every call (~10% of a
    # classification); memory-mapped, the forked workers share its pages
    np.save(folder / "ptc32.npy", np.asarray(ptc, dtype=np.float32), allow_pickle=False)
    np.savez(
        folder / "rest.npz",
        pc=np.asarray(pc),
        classes=np.array(classes),
        out=np.asarray(output, dtype=np.int64),
        typecodes=np.array(nextmove.typecode + row.typecode),
        lengths=np.array([len(nextmove), len(row)], dtype=np.int64),
    )
    with open(folder / "nextmove.bin", "wb") as f:
        nextmove.tofile(f)
    with open(folder / "row.bin", "wb") as f:
        row.tofile(f)


def load_identifier(*, cache: bool = True) -> Any:
    """py3langid's ``LanguageIdentifier`` (``norm_probs=True``), from the cache when
    there is one; ``None`` without py3langid."""
    if _langid is None:
        return None
    path = _model_path()
    if cache:
        try:
            key = _key(path)
            folder = _CACHE.dir / key
            model = _load_cached(folder) if folder.is_dir() else None
            if model is None:
                model = _langid._load_model_file(path)
                _CACHE.drop(key)  # a damaged one: built again
                built = _CACHE.folder(key, lambda tmp: _write(model, tmp))
                if built is not None:  # the float32 table, memory-mapped
                    model = _load_cached(built) or model
            else:
                _CACHE.used(key)
            ptc, pc, classes, nextmove, row, output = model
            return _langid.LanguageIdentifier(
                np.asarray(ptc), np.asarray(pc), classes, nextmove, output,
                norm_probs=True, tk_row=row,
            )  # fmt: skip
        except Exception:  # pragma: no cover - another py3langid's internals
            pass
    return _langid.LanguageIdentifier.from_modelpath(path, norm_probs=True)


__all__ = ["load_identifier"]
