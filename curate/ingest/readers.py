"""Containers: how records come out of a file, whatever their format.

Every reader streams (one record, or one batch of a table, in memory at a time) and yields
:class:`Raw` items: a parsed record with its 1-based ``line`` (JSONL) or ``row`` (JSON array,
CSV, Parquet, Arrow), or the raw text of a record that would not parse, with a reason.

- JSONL (``.jsonl``, ``.ndjson``; a ``.json`` file that does not start with ``[``)
- JSON arrays (``.json``), parsed incrementally with :meth:`json.JSONDecoder.raw_decode`
- CSV / TSV / Parquet through polars (all CSV cells read as text)
- Arrow shards and Hugging Face ``datasets`` saved with ``save_to_disk`` (a split name)
- ``.gz`` / ``.bz2`` / ``.xz`` / ``.zst`` around any of the text formats; globs; directories

Example:
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.json")
    >>> _ = open(p, "w").write('[{"a": 1},\\n {"a": 2}, oops, {"a": 3}]')
    >>> [(r.loc.row, r.record if r.error is None else r.error[0]) for r in read_raw(p)]
    [(1, {'a': 1}), (2, {'a': 2}), (3, 'invalid_json'), (4, {'a': 3})]
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import glob
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from curate.io import BOM, check_readable, iter_raw_lines, open_binary, parse_line
from curate.records import Finding, InputError, Location

COMPRESSION = (".gz", ".bz2", ".xz", ".zst")
KINDS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".arrow": "arrow",
}
#: reading buffer of the JSON array parser, and the most it grows to find one element
CHUNK_CHARS = 1 << 20
MAX_ELEMENT_CHARS = 256 << 20
#: rows per batch read from tables
BATCH_ROWS = 4096
#: longest raw text kept for a record that did not parse
MAX_RAW_CHARS = 1 << 20


@dataclass(slots=True)
class Raw:
    """One record as read: ``record`` is the parsed value, or the raw text when ``error``
    (``(reason, message)``) is set."""

    loc: Location
    record: Any
    error: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """One input to read: a file, or a saved Hugging Face dataset directory."""

    path: str
    kind: str
    split: str | None = None


# -- finding the inputs ---------------------------------------------------------------------


def kind_of(path: str | os.PathLike[str]) -> str | None:
    """The container kind from the file name (``None`` if unknown).

    Example:
        >>> kind_of("data/train.jsonl.gz"), kind_of("x.parquet"), kind_of("notes.md")
        ('jsonl', 'parquet', None)
    """
    name = Path(path).name.lower()
    for c in COMPRESSION:
        if name.endswith(c):
            name = name[: -len(c)]
            break
    return KINDS.get(Path(name).suffix)


def is_hf_dataset(path: Path) -> bool:
    return path.is_dir() and (
        (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()
    )


def sniff(path: str) -> str:
    """The container of a file whose name says nothing: ``[`` -> JSON array, ``{`` -> JSONL."""
    with open_binary(path) as f:
        head = f.read(4096)
    head = head.removeprefix(BOM).lstrip()
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "jsonl"
    if head.startswith(b"PAR1"):
        return "parquet"
    raise InputError(
        f"{path}: cannot tell what kind of file this is from its name or its first bytes. "
        "Rename it to .jsonl, .json, .csv, .tsv, .parquet or .arrow."
    )


#: reject files of earlier runs (this and older versions' names): skipped in folders
REJECT_NAMES = (
    ".rejects.jsonl",
    ".rejects.jsonl.gz",
    ".rejected.jsonl",
    ".rejected.jsonl.gz",
    "rejected.jsonl",
)


def expand(
    paths: list[str], *, split: str | None = None, exclude: set[Path] | None = None
) -> tuple[list[Source], list[str]]:
    """Turn files, globs and directories (walked recursively, in sorted order) into
    :class:`Source` items; returns them and the files skipped in directories (unknown
    extension, hidden, or a ``*.rejected.jsonl`` written by an earlier run)."""
    skip = {p.resolve() for p in (exclude or set())}
    out: list[Source] = []
    skipped: list[str] = []
    for arg in paths:
        p = Path(arg)
        if not p.exists() and any(ch in arg for ch in "*?["):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise InputError(f"{arg}: no files match this pattern.")
            for m in matches:
                _add(Path(m), out, skipped, skip, split, explicit=False)
            continue
        if not p.exists():
            check_readable(p)  # raises the standard "no such file" error
        if p.is_dir() and not is_hf_dataset(p):
            found: list[Source] = []
            _add(p, found, skipped, skip, split, explicit=True)
            out.extend(_shards_of_split(str(p), found, split, skipped))
            continue
        _add(p, out, skipped, skip, split, explicit=True)
    return out, skipped


#: split names recognised in shard file names (``data/train-00000-of-00002.parquet``)
KNOWN_SPLITS = ("train", "validation", "valid", "dev", "eval", "test")


def split_of(path: str, root: str, wanted: str | None = None) -> str | None:
    """The split a shard belongs to, if its path says: the Hub's ``{split}-00000-of-00002``
    file names (also with a dataset-name prefix, as in the ``datasets`` cache), a file named
    after a common split (``test.parquet``), or a folder named after a common split or
    ``wanted``.

    Example:
        >>> split_of("d/data/train_sft-00000-of-00002.parquet", "d")
        'train_sft'
        >>> split_of("d/test/0.parquet", "d"), split_of("d/x/dev.arrow", "d")
        ('test', 'dev')
        >>> split_of("d/raw/chat.parquet", "d") is None
        True
    """
    rel = Path(path).relative_to(root).parts
    name = rel[-1]
    m = re.match(r"^(?:.*?-)?([A-Za-z][\w.]*?)-\d{5}-of-\d{5}", name)
    if m:
        return m.group(1)
    stem = name.split(".", 1)[0]
    if stem in KNOWN_SPLITS or (wanted is not None and stem == wanted):
        return stem
    for part in reversed(rel[:-1]):
        if part in KNOWN_SPLITS or (wanted is not None and part == wanted):
            return part
    return None


def _shards_of_split(
    root: str, found: list[Source], split: str | None, skipped: list[str]
) -> list[Source]:
    """Parquet/Arrow shards of a walked folder (the Hub's ``data/train-*.parquet`` layout):
    with ``split``, keep that split's shards; without, refuse to mix several splits."""
    shards = {
        s.path: split_of(s.path, root, split) for s in found if s.kind in ("parquet", "arrow")
    }
    named = {v for v in shards.values() if v}
    if split is None:
        if len(named) > 1:
            raise InputError(
                f"{root}: holds shards of several splits ({', '.join(sorted(named))}); "
                f"pass --split {sorted(named)[0]} (or another)"
            )
        return found
    if not named:
        return found
    keep = []
    for s in found:
        if s.path in shards and shards[s.path] != split:
            skipped.append(s.path)
        else:
            keep.append(s)
    return keep


_walking: set[Path] = set()


def _add(
    p: Path,
    out: list[Source],
    skipped: list[str],
    skip: set[Path],
    split: str | None,
    *,
    explicit: bool,
) -> None:
    if p.resolve() in skip and not explicit:  # an explicit one: the output plan refuses it
        return
    if is_hf_dataset(p):
        out.append(Source(str(p), "hf", split))
        return
    if p.is_dir():
        real = p.resolve()
        if real in _walking:
            return  # a symlink loop
        _walking.add(real)
        try:
            children = sorted(p.iterdir(), key=lambda c: c.name)
        except OSError as e:
            raise InputError(f"{p}: cannot list the directory ({e.strerror or e})") from e
        for child in children:
            if child.name.startswith("."):
                continue
            _add(child, out, skipped, skip, split, explicit=False)
        _walking.discard(real)
        return
    kind = kind_of(p)
    if p.name.endswith(REJECT_NAMES) and not explicit:
        skipped.append(str(p))
        return
    if kind is None:
        if not explicit:
            skipped.append(str(p))
            return
        check_readable(p)
        kind = sniff(str(p))
    out.append(Source(str(p), kind, split))


# -- reading ----------------------------------------------------------------------------------


def read_raw(path: str, kind: str | None = None, *, split: str | None = None) -> Iterator[Raw]:
    """Stream the records of one file (or saved dataset) as :class:`Raw` items."""
    if kind is None:
        p = Path(path)
        kind = "hf" if is_hf_dataset(p) else (kind_of(p) or sniff(path))
    if kind == "jsonl":
        return _read_jsonl(path)
    if kind == "json":
        return _read_json(path)
    if kind in ("csv", "tsv"):
        return _read_csv(path, "\t" if kind == "tsv" else ",")
    if kind == "parquet":
        return _read_parquet(path)
    if kind == "arrow":
        return _read_arrow(path)
    if kind == "hf":
        return _read_hf(path, split)
    raise InputError(f"{path}: unknown container {kind!r}")


def _finding_raw(f: Finding, raw: bytes) -> Raw:
    text = raw[:MAX_RAW_CHARS].decode("utf-8", errors="backslashreplace")
    return Raw(f.location, text, (f.code, f.message))


def _read_jsonl(path: str) -> Iterator[Raw]:
    for n, raw in iter_raw_lines(path):
        parsed = parse_line(path, n, raw)
        if parsed is None:
            continue  # blank line: not a record
        if isinstance(parsed, Finding):
            yield _finding_raw(parsed, raw)
        else:
            yield Raw(parsed.source, parsed.data)


def _first_char(path: str) -> str:
    with open_binary(path) as f:
        head = f.read(4096).removeprefix(BOM).lstrip()
    return chr(head[0]) if head else ""


def _read_json(path: str) -> Iterator[Raw]:
    first = _first_char(path)
    if first == "[":
        yield from _read_json_array(path)
        return
    if first != "{":
        yield from _read_jsonl(path)  # reports the invalid lines
        return
    # JSONL saved as .json, or one (pretty-printed) object
    lines = _read_jsonl(path)
    head = next(lines, None)
    if head is not None and head.error is None:
        yield head
        yield from lines
        return
    with open_binary(path) as f:
        data = f.read()
    try:
        obj = json.loads(data.removeprefix(BOM).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        yield from _read_jsonl(path)  # neither: report it line by line
        return
    yield Raw(Location(path, row=1), obj)


class _Decode(Exception):
    pass


def _read_json_array(path: str) -> Iterator[Raw]:
    """Stream the elements of a top-level JSON array with 1-based row numbers; an element
    that does not parse is reported (``invalid_json``) and reading resumes at the next
    element boundary."""
    decoder = json.JSONDecoder()
    after_object = re.compile(r"\}\s*,\s*(?=[{\[])")
    after_other = re.compile(r",\s*(?=[{\[])")
    with open_binary(path) as fb, _text(fb, path) as f:
        buf, pos, eof = "", 0, False

        def fill() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            try:
                chunk = f.read(CHUNK_CHARS)
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{path}: not valid UTF-8 ({e.reason} in a chunk after character "
                    f"{len(buf)}); re-encode the file as UTF-8."
                ) from e
            if not chunk:
                eof = True
                return False
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip_ws() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n\ufeff":
                    pos += 1
                if pos < len(buf) or not fill():
                    return buf[pos] if pos < len(buf) else ""

        if skip_ws() != "[":
            raise InputError(f"{path}: expected a JSON array starting with '['")
        pos += 1
        row = 0
        while True:
            ch = skip_ws()
            if ch == ",":
                pos += 1
                ch = skip_ws()
            if ch == "]":
                return
            if ch == "":
                if row == 0:
                    return
                row += 1
                yield Raw(
                    Location(path, row=row),
                    "",
                    ("invalid_json", "file ends before the closing ']' (truncated?)"),
                )
                return
            row += 1
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    if end == len(buf) and not eof and fill():
                        continue  # a number or literal may go on in the next chunk
                    yield Raw(Location(path, row=row), obj)
                    pos = end
                    break
                except (json.JSONDecodeError, RecursionError) as e:
                    if (
                        isinstance(e, json.JSONDecodeError)
                        and not eof
                        and len(buf) - pos < MAX_ELEMENT_CHARS
                        and fill()
                    ):
                        continue
                    msg = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
                    # malformed: skip to the next element boundary ("}, {" after an object)
                    boundary = after_object if buf[pos] == "{" else after_other
                    while True:
                        m = boundary.search(buf, pos + 1)
                        if m or eof or len(buf) - pos >= MAX_ELEMENT_CHARS or not fill():
                            break
                    if m:  # prefer a boundary after which the element's brackets balance
                        m = _balanced_boundary(buf, pos, boundary) or m
                    stop = (m.start() + (boundary is after_object)) if m else len(buf)
                    bad = buf[pos:stop]
                    where = "element" if m else "element (and the rest of the file)"
                    yield Raw(
                        Location(path, row=row),
                        bad[:MAX_RAW_CHARS],
                        ("invalid_json", f"invalid JSON in array {where}: {msg}"),
                    )
                    if not m:
                        return
                    pos = stop
                    break


def _balanced_boundary(buf: str, start: int, boundary: re.Pattern[str]) -> re.Match[str] | None:
    """The first element boundary after ``start`` at which the brackets opened since
    ``start`` are all closed (strings skipped), or ``None``: a malformed element that
    holds a list of objects (a conversation) is then cut after its end, not inside it
    (which would read a turn of it as the next record)."""
    depth, in_str, esc, i = 0, False, False, start
    for m in boundary.finditer(buf, start + 1):
        stop = m.start() + (buf[m.start()] == "}")
        while i < stop:
            c = buf[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
            i += 1
        if depth == 0 and not in_str:
            return m
        if depth < 0:
            return None
    return None


@contextlib.contextmanager
def _text(fb: IO[bytes], path: str) -> Iterator[IO[str]]:
    import io

    f = io.TextIOWrapper(fb, encoding="utf-8-sig", errors="strict", newline="")
    try:
        yield f
    finally:
        f.detach()


def _table_error(path: str, e: Exception) -> InputError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    hint = ""
    if "utf-8" in first.lower() or "utf8" in first.lower():
        hint = ". Re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT)"
    elif "fields" in first:
        hint = ". Check the delimiter (.csv is comma-, .tsv tab-separated) and the quoting"
    return InputError(f"{path}: cannot read the table: {first}{hint}")


@contextlib.contextmanager
def _plain_copy(path: str) -> Iterator[str]:
    """The path itself, or a decompressed temporary copy (polars scans plain files)."""
    if not Path(path).name.lower().endswith(COMPRESSION):
        yield path
        return
    fd, tmp = tempfile.mkstemp(suffix=".tmp", prefix=".curate-ingest-")
    try:
        with open_binary(path) as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _rows(path: str, batches: Iterator[Any]) -> Iterator[Raw]:
    row = 0
    for batch in batches:
        for rec in batch:
            row += 1
            yield Raw(Location(path, row=row), jsonable(rec))


def _read_csv(path: str, sep: str) -> Iterator[Raw]:
    import polars as pl

    with _plain_copy(path) as plain:
        try:
            lf = pl.scan_csv(plain, separator=sep, infer_schema=False, encoding="utf8")
            batches = (df.to_dicts() for df in lf.collect_batches(chunk_size=BATCH_ROWS))
            yield from _rows(path, batches)
        except pl.exceptions.NoDataError:
            return  # an empty file: no records, like an empty JSONL
        except (pl.exceptions.PolarsError, OSError) as e:
            raise _table_error(path, e) from e


def _read_parquet(path: str) -> Iterator[Raw]:
    import polars as pl

    with _plain_copy(path) as plain:
        try:
            lf = pl.scan_parquet(plain)
            batches = (df.to_dicts() for df in lf.collect_batches(chunk_size=BATCH_ROWS))
            yield from _rows(path, batches)
        except (pl.exceptions.PolarsError, OSError) as e:
            raise _table_error(path, e) from e


def _read_arrow(path: str) -> Iterator[Raw]:
    """An Arrow IPC shard (``datasets`` writes the streaming format; files work too)."""
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc
    except ImportError:  # pragma: no cover - pyarrow comes with curate[hf]
        import polars as pl

        df = pl.read_ipc_stream(path)
        yield from _rows(path, (s.to_dicts() for s in df.iter_slices(BATCH_ROWS)))
        return
    try:
        source = pa.memory_map(path)
        try:
            reader: Any = ipc.open_stream(source)
            batches = iter(reader)
        except pa.ArrowInvalid:
            source = pa.memory_map(path)
            reader = ipc.open_file(source)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        yield from _rows(path, (b.to_pylist() for b in batches))
    except (pa.ArrowException, OSError) as e:
        raise _table_error(path, e) from e


def hf_splits(path: Path) -> list[str]:
    """The splits of a saved ``DatasetDict`` (empty for a single ``Dataset``)."""
    dd = path / "dataset_dict.json"
    if not dd.is_file():
        return []
    try:
        splits = json.loads(dd.read_text(encoding="utf-8")).get("splits", [])
    except (OSError, ValueError, AttributeError) as e:
        raise InputError(f"{dd}: cannot read the split list: {e}") from e
    return [s for s in splits if isinstance(s, str)]


def hf_shards(path: str, split: str | None) -> list[Path]:
    """The Arrow shards of a dataset saved with ``save_to_disk``, in order."""
    root = Path(path)
    splits = hf_splits(root)
    if splits:
        if split is None:
            if len(splits) != 1:
                raise InputError(
                    f"{path}: a saved dataset with splits {', '.join(splits)}; "
                    f"pass --split {splits[0]} (or another)"
                )
            split = splits[0]
        if split not in splits:
            raise InputError(
                f"{path}: no split {split!r} (have: {', '.join(splits)}); pass --split NAME"
            )
        root = root / split
    try:
        state = json.loads((root / "state.json").read_text(encoding="utf-8"))
        files = [root / d["filename"] for d in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{root}: not a dataset saved with save_to_disk ({e})") from e
    for f in files:
        check_readable(f)
    return files


def _read_hf(path: str, split: str | None) -> Iterator[Raw]:
    for shard in hf_shards(path, split):
        yield from _read_arrow(str(shard))


def jsonable(value: Any) -> Any:
    """A table value as plain JSON: ``None`` fields of structs dropped (Arrow cannot tell a
    missing key from a null one), dates as ISO text, bytes as UTF-8 text.

    Example:
        >>> jsonable({"messages": [{"role": "user", "content": "hi", "name": None}], "n": None})
        {'messages': [{'role': 'user', 'content': 'hi'}], 'n': None}
    """
    if isinstance(value, dict):
        return {k: _nested(v) for k, v in value.items()}
    return _nested(value)


def _nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nested(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_nested(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime.date | datetime.time | datetime.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
