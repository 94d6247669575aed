"""Streaming input and atomic output.

Reading is split in two so the expensive half can run in worker processes:
:func:`iter_raw_lines` (main process: bytes and line numbers, nothing parsed) and
:func:`parse_line` (pure: one line in, an :class:`Example` or a :class:`Finding` out).
Every line is parsed once, every problem is tied to its file and line.

Example:
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "x.jsonl")
    >>> with atomic_write(p) as f:
    ...     _ = f.write('{"messages": []}\\n')
    >>> [type(r).__name__ for r in read_jsonl(p)]
    ['Example']
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from curate.records import Example, Finding, InputError, Location, Severity

BOM = b"\xef\xbb\xbf"

try:  # orjson parses a line about 1.5x faster; json stays the reference (see parse_line)
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_loads = None
#: digits to "0", every other byte to " ": a run of 19 digits (an integer orjson would
#: turn into a float beyond 64 bits) is then a plain substring search
_DIGITS_ONLY = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_NUMBER = b"0" * 19
#: the bytes ``bytes.strip()`` removes: a line that does not start with one is not blank
_ASCII_SPACE = frozenset(b" \t\n\r\x0b\x0c")

_COMPRESSED: dict[str, Callable[..., IO[bytes]]] = {
    ".gz": gzip.open,  # type: ignore[dict-item]
    ".bz2": bz2.open,
    ".xz": lzma.open,
}


#: the input name that means standard input (``cat x.jsonl | curate validate -``)
STDIN = "-"
_stdin_copy: Path | None = None


def stdin_copy() -> Path:
    """Standard input saved to a private temporary file, once per process (the stages
    read an input more than once: a sniff, then the lines, then a write pass), removed
    when the process exits. Messages name the input ``-``. A terminal is refused: the
    user forgot the pipe, and reading would wait for ever."""
    global _stdin_copy
    if _stdin_copy is not None:
        return _stdin_copy
    import atexit
    import shutil
    import sys
    import tempfile

    src = sys.stdin.buffer if sys.stdin is not None else None
    if src is None or src.isatty():
        raise InputError(
            "-: standard input is a terminal. Pipe the data in (cat data.jsonl | curate "
            "validate -) or give a file name."
        )
    folder = tempfile.mkdtemp(prefix="curate-stdin-")
    atexit.register(shutil.rmtree, folder, True)
    dest = Path(folder) / "stdin"
    with open(dest, "wb") as f:
        shutil.copyfileobj(src, f, 1 << 20)
    _stdin_copy = dest
    return dest


def source_file(path: str | os.PathLike[str]) -> str:
    """The file that holds an input's bytes: its own path, or for ``-`` the copy of
    standard input (for a size, a hash or a second read)."""
    return str(stdin_copy()) if os.fspath(path) == STDIN else os.fspath(path)


def check_readable(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`InputError` with a clear message unless ``path`` is a readable
    regular file (a FIFO, a device such as ``/dev/zero`` or a socket is refused: it
    may never end, or be read twice). ``-`` is standard input, saved to a temporary
    file first (:func:`stdin_copy`)."""
    if os.fspath(path) == STDIN:
        return stdin_copy()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file. Check the path (cwd is {os.getcwd()}).")
    if p.is_dir():
        raise InputError(
            f"{path}: is a directory, not a file. Pass the files in it, e.g. {path}/*.jsonl."
        )
    if not p.is_file():
        raise InputError(
            f"{path}: is not a regular file (a FIFO, device or socket). curate reads regular "
            "files; save the stream to a file first."
        )
    if not os.access(p, os.R_OK):
        raise InputError(f"{path}: permission denied.")
    return p


#: the longest line (in bytes) any command reads; a longer line is a per-line
#: ``line_too_long`` problem, read past without holding it (``CURATE_MAX_LINE_BYTES``
#: in the environment sets another limit)
MAX_LINE_BYTES = 16 << 20


def max_line_bytes() -> int:
    value = os.environ.get("CURATE_MAX_LINE_BYTES", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_LINE_BYTES


class LongLine(bytes):
    """Stands for a line longer than :func:`max_line_bytes` (it holds none of the
    line's bytes; ``size`` is the line's length): :func:`parse_line` turns it into a
    ``line_too_long`` finding."""

    size: int

    def __new__(cls, size: int) -> LongLine:
        obj = super().__new__(cls, b"")
        obj.size = size
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return LongLine, (self.size,)


def long_line_finding(file: str, line: int, size: int) -> Finding:
    return Finding(
        "line_too_long",
        Severity.ERROR,
        f"line of {size:,} bytes is longer than the limit of {max_line_bytes():,} bytes; "
        "it was not read",
        Location(file, line),
        hint="split or drop this record; raise CURATE_MAX_LINE_BYTES if it is really meant",
    )


#: what decompressors raise on truncated or corrupt data
_CORRUPT: tuple[type[BaseException], ...] = (EOFError, OSError, lzma.LZMAError, zlib.error)


def corrupt_error(path: str | os.PathLike[str], e: BaseException, where: str) -> InputError:
    """The error for a compressed file that is truncated or corrupt, saying how far
    reading got."""
    what = "ends early (truncated)" if isinstance(e, EOFError) else f"is corrupt ({e})"
    return InputError(
        f"{path}: the compressed data {what} {where}. Re-download or re-compress the file; "
        "nothing was written."
    )


def _is_read_error(e: BaseException) -> bool:
    """A decompression failure (not a permission or disk problem of the output)."""
    if isinstance(e, (EOFError, lzma.LZMAError, zlib.error)):
        return True
    if type(e).__module__.startswith("zstandard") or type(e).__name__ == "ZstdError":
        return True
    return isinstance(e, OSError) and e.errno is None


def open_binary(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for binary reading, decompressing ``.gz``, ``.bz2``, ``.xz`` (and
    ``.zst`` when the ``zstandard`` package is installed) by extension."""
    p = check_readable(path)
    suffix = "" if os.fspath(path) == STDIN else p.suffix.lower()
    if suffix in _COMPRESSED:
        return _COMPRESSED[suffix](p, "rb")
    if suffix == ".zst":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError as e:
            raise InputError(
                f"{path}: reading .zst needs the zstandard package: pip install 'curate[zst]'."
            ) from e
        # zstandard's reader has no readline (zstandard 0.25): buffer it
        return io.BufferedReader(zstandard.open(p, "rb"))  # type: ignore[arg-type]
    return open(p, "rb")


def iter_raw_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_bytes)`` for every line of a file, 1-based, with the
    line ending (``\\n`` or ``\\r\\n``) removed. Streams: one line in memory at a time;
    a line longer than :func:`max_line_bytes` comes as a :class:`LongLine` (its bytes
    are skipped, not held). A truncated or corrupt compressed file raises
    :class:`InputError` saying how many lines were read."""
    limit = max_line_bytes()
    n = 0
    f = open_binary(path)
    try:
        with f:
            readline = f.readline
            while True:
                raw = readline(limit + 1)
                if not raw:
                    break
                n += 1
                if len(raw) > limit and not raw.endswith(b"\n"):
                    size = len(raw)
                    while raw and not raw.endswith(b"\n"):
                        raw = readline(1 << 20)
                        size += len(raw)
                    yield n, LongLine(size - (1 if raw.endswith(b"\n") else 0))
                    continue
                if raw.endswith(b"\n"):
                    raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
                yield n, raw
    except _CORRUPT as e:
        if not _is_read_error(e):
            raise
        raise corrupt_error(path, e, f"after line {n:,}") from e


def parse_line(file: str, line: int, raw: bytes) -> Example | Finding | None:
    """Parse one JSONL line. Returns an :class:`Example`, a :class:`Finding` for a line
    that cannot be an example (invalid JSON or encoding), or ``None`` for a blank line
    (the caller reports blank lines, see :func:`read_jsonl`). A UTF-8 BOM on line 1 is
    stripped here; the caller reports it.

    A line is parsed by orjson first; whatever orjson refuses (invalid JSON, invalid
    UTF-8, a BOM, and the values it is stricter about than Python: ``NaN``, lone
    surrogate escapes, deep nesting), and every line with a run of 19 or more digits
    (orjson reads an integer beyond 64 bits as a float), goes the ``json.loads`` way, so
    the result, and every finding, is what ``json.loads`` gives (the cookbook's parser).

    Example:
        >>> parse_line("f.jsonl", 3, b'{"a": NaN, "b": -9223372036854775809}').data
        {'a': nan, 'b': -9223372036854775809}
    """
    if type(raw) is LongLine:
        return long_line_finding(file, line, raw.size)
    if _fast_loads is not None and _LONG_NUMBER not in raw.translate(_DIGITS_ONLY):
        try:
            return Example(_fast_loads(raw), Location(file, line))
        except ValueError:  # orjson.JSONDecodeError
            pass
    loc = Location(file, line)
    if line == 1 and raw.startswith(BOM):
        raw = raw[len(BOM) :]
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Finding(
            "invalid_encoding",
            Severity.ERROR,
            f"not valid UTF-8: byte 0x{raw[e.start]:02x} at column {e.start + 1}",
            loc,
            hint="re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT)",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        snippet = text[max(0, e.pos - 20) : e.pos + 20]
        return Finding(
            "invalid_json",
            Severity.ERROR,
            f"invalid JSON at column {e.colno}: {e.msg} (near {snippet!r})",
            loc,
            hint="each line must be one complete JSON object; fix or remove this line",
        )
    except RecursionError:
        return Finding(
            "invalid_json",
            Severity.ERROR,
            "invalid JSON: nested too deeply to parse",
            loc,
            hint="each line must be one complete JSON object; fix or remove this line",
        )
    if "\\u" in text and _lone_surrogate(data):
        return Finding(
            "invalid_unicode",
            Severity.ERROR,
            "a string holds a lone surrogate escape (\\ud800-\\udfff without its pair): "
            "not a Unicode character, so no UTF-8 file or tokenizer can hold it",
            loc,
            hint="fix the export that wrote it (a string cut inside an emoji's escape pair)",
        )
    return Example(data, loc)


def _lone_surrogate(data: Any) -> bool:
    """True when a string (or key) in ``data`` holds a lone surrogate code point."""
    try:
        dumps(data).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (RecursionError, ValueError, TypeError):
        return False
    return False


def _n_keys(value: Any) -> int:
    n = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if type(v) is dict:
            n += len(v)
            stack.extend(x for x in v.values() if type(x) in (dict, list))
        elif type(v) is list:
            stack.extend(x for x in v if type(x) in (dict, list))
    return n


def duplicate_key_findings(file: str, line: int, raw: bytes, data: Any) -> list[Finding]:
    """A warning for each key given twice in one object of the line (JSON parsers keep
    the last value silently). Cheap for the common line: the exact check runs only when
    the line has more ``":`` than the parsed record has keys."""
    if raw.count(b'":') + raw.count(b'" :') <= _n_keys(data):
        return []
    dups: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in items:
            if k in seen:
                dups.append(k)
            seen.add(k)
        return dict(items)

    try:
        json.loads(raw.removeprefix(BOM), object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []
    return [
        Finding(
            "duplicate_key",
            Severity.WARNING,
            f'key "{k}" appears twice in one object; JSON readers keep only the last value',
            Location(file, line),
            hint="remove the first (or the second) copy so every reader sees the same record",
        )
        for k in dict.fromkeys(dups)
    ]


def line_findings(file: str, line: int, raw: bytes, *, is_last: bool = False) -> list[Finding]:
    """Findings about the line itself, not its content: a BOM, a blank line."""
    if line != 1 and raw and raw[0] not in _ASCII_SPACE:
        return []  # the common line: no BOM and not blank (no quick scan of it needed)
    if type(raw) is LongLine:
        return []
    out: list[Finding] = []
    if line == 1 and raw.startswith(BOM):
        out.append(
            Finding(
                "bom",
                Severity.WARNING,
                "file starts with a UTF-8 byte order mark (BOM)",
                Location(file, line),
                hint="save the file as UTF-8 without BOM; some JSONL readers reject it",
            )
        )
        raw = raw[len(BOM) :]
    if not raw.strip():
        out.append(
            Finding(
                "empty_line",
                Severity.WARNING,
                "blank line (not an example)",
                Location(file, line),
                hint="remove blank lines; OpenAI's uploader rejects them",
            )
        )
    return out


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[Example | Finding]:
    """Stream a JSONL file: each line becomes an :class:`Example` or one or more
    :class:`Finding` (BOM, blank line, invalid encoding, invalid JSON). An empty file
    yields a single ``empty_file`` finding. Raises :class:`InputError` when the file
    cannot be opened."""
    file = str(path)
    seen = False
    for n, raw in iter_raw_lines(path):
        seen = True
        yield from line_findings(file, n, raw)
        parsed = parse_line(file, n, raw)
        if parsed is not None:
            yield parsed
    if not seen:
        yield empty_file_finding(file)


def empty_file_finding(file: str, *, blank: bool = False) -> Finding:
    """The finding for a file with no example: empty, or (``blank``) only blank lines."""
    return Finding(
        "empty_file",
        Severity.ERROR,
        "file has only blank lines: no examples" if blank else "file is empty: no examples",
        Location(file),
        hint="check the export step that wrote this file",
    )


def refuse_utf16(path: str | os.PathLike[str], first_line: bytes) -> None:
    """Raise :class:`InputError` when a file's first line shows UTF-16 (a BOM, or NUL
    bytes, which JSON text never holds: strings escape control characters)."""
    if first_line.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first_line[:64]:
        raise InputError(
            f"{path}:1: the file is UTF-16 encoded, not UTF-8. Re-encode it first: "
            f"iconv -f UTF-16 -t UTF-8 {path} > {Path(path).stem}.utf8.jsonl"
        )


def sniff_not_jsonl(path: str) -> None:
    """Raise :class:`InputError` when a file is plainly not JSONL (a JSON array or one
    pretty-printed object), instead of reporting every line as invalid JSON."""
    lines = iter_raw_lines(path)
    for _line, raw in lines:
        refuse_utf16(path, raw)
        head = raw.removeprefix(BOM).strip()
        if not head:
            continue
        if head[:1] not in (b"[", b"{"):
            return
        try:
            json.loads(head)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            if not _continues_json(lines):
                return  # a broken first line of a JSONL file: reported as invalid JSON
            kind = "a JSON array" if head[:1] == b"[" else "a multi-line JSON object"
            raise InputError(
                f"{path}:1: this is {kind}, not JSONL (one JSON object per line). "
                f"Convert it first: curate ingest {path} -o data.jsonl"
            ) from None
        return


def _continues_json(lines: Iterator[tuple[int, bytes]]) -> bool:
    """Whether the next non-blank line continues a pretty-printed JSON document (indented,
    or a key, a closing bracket or a nested opening one) rather than starting the next
    JSONL record: a truncated first record (an interrupted write) is not a JSON document."""
    for _line, raw in lines:
        if not raw.strip():
            continue
        if raw[:1] in (b" ", b"\t"):
            return True
        head = raw.strip()
        if head[:1] in (b"}", b"]", b'"'):
            return True
        if head[:1] in (b"{", b"["):
            try:
                json.loads(head)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                return True  # the first element of an array, split over lines
            return False  # a whole record: this is JSONL with a broken first line
        return False
    return False  # a single line that does not parse: invalid JSON, reported with its column


def dumps(obj: Any) -> str:
    """One JSON line, UTF-8 kept as is, no spaces wasted."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def dumps_strict(obj: Any) -> str:
    """:func:`dumps` for records curate writes as data: raises ``ValueError`` on NaN or
    infinite numbers (``NaN``, ``Infinity``, or ``1e400`` read as infinity), which
    strict JSON readers refuse."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def finite(value: Any) -> Any:
    """``value`` with NaN and infinite floats written as the strings ``"NaN"``,
    ``"Infinity"``, ``"-Infinity"`` (for reject rows: they keep the record readable by
    strict JSON readers).

    Example:
        >>> finite({"a": [float("nan"), 1.5, float("-inf")]})
        {'a': ['NaN', 1.5, '-Infinity']}
    """
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and rename it into place only when the
    block finishes without an exception: readers never see a half-written file, and an
    interrupted run leaves the old file (or none) behind. The temporary name is the
    output plan's (:func:`curate.stage.temp_name`), so a killed run's leftover is removed
    the next time the same file is written."""
    from curate.stage import clean_stale, temp_name

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    tmp = str(temp_name(target))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        if "b" in mode:
            f: IO[Any] = os.fdopen(fd, mode)
        else:
            f = io.open(fd, mode, encoding=encoding, newline="\n")  # noqa: UP020
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Any]) -> int:
    """Atomically write ``rows`` (JSON-serialisable) as JSONL; returns the count."""
    n = 0
    with atomic_write(path) as f:
        for row in rows:
            f.write(dumps(row))
            f.write("\n")
            n += 1
    return n
