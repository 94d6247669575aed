"""The canonical record types every stage shares.

- :class:`Location`: where something came from (file, line or row, message index).
- :class:`Finding`: one problem a validator found, with a stable ``code``.
- :class:`Example`: one parsed record (any JSON value) plus its :class:`Location`.
- :class:`Rejected`: an input that could not become an :class:`Example`, with the reason.

Example:
    >>> loc = Location("data/train.jsonl", 42, message_index=3)
    >>> str(loc)
    'data/train.jsonl:42'
    >>> f = Finding("too_long", Severity.ERROR, "3412 tokens > max_tokens=2048", loc)
    >>> f.to_dict()["line"]
    42
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How bad a finding is. Ordered: ``INFO < WARNING < ERROR``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def __ge__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # a dict look-up when unpickled instead of the Enum constructor (findings cross
        # from worker processes by the thousand)
        return _severity, (self.value,)


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}
_SEVERITY_BY_VALUE = {s.value: s for s in Severity}


def _severity(value: str) -> Severity:
    """The :class:`Severity` of a value (what a pickled severity is rebuilt with)."""
    return _SEVERITY_BY_VALUE[value]


@dataclass(frozen=True, slots=True)
class Location:
    """Where an example (or a part of it) came from.

    Args:
        file: the path as the user gave it.
        line: 1-based line number in a line-oriented file (JSONL, CSV), else ``None``.
        row: 1-based record number in a file that is not line-oriented (a JSON array,
            Parquet, a saved Hugging Face dataset), else ``None``.
        message_index: 0-based index into ``messages`` when the problem is in one message.
        format: the detected input format (``openai``, ``alpaca``...), when known.
    """

    file: str
    line: int | None = None
    row: int | None = None
    message_index: int | None = None
    format: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # positional fields: about 3x faster to pickle and load than the default for a
        # slotted dataclass (findings cross from worker processes by the thousand)
        return Location, (self.file, self.line, self.row, self.message_index, self.format)

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.row is not None:
            return f"{self.file}#{self.row}"
        return self.file

    def with_message(self, index: int | None) -> Location:
        return Location(self.file, self.line, self.row, index, self.format)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file}
        if self.line is not None:
            out["line"] = self.line
        if self.row is not None:
            out["row"] = self.row
        if self.format is not None:
            out["format"] = self.format
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Location:
        return cls(
            file=str(d.get("file", "")),
            line=d.get("line"),
            row=d.get("row"),
            format=d.get("format"),
        )


@dataclass(slots=True)
class Finding:
    """One problem found in the data.

    Args:
        code: stable snake_case name (the OpenAI cookbook's own where it has one).
        severity: :class:`Severity`.
        message: what is wrong, in one sentence, with the numbers.
        location: where (file, line, message index).
        hint: how to fix it.
        related: another location the finding refers to (the other copy of a duplicate).
        data: extra machine-readable details (a span, the expectation's name...).
    """

    code: str
    severity: Severity
    message: str
    location: Location
    hint: str | None = None
    related: Location | None = None
    data: dict[str, Any] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # positional fields, as Location (worker processes send findings by the thousand)
        return Finding, (
            self.code,
            self.severity,
            self.message,
            self.location,
            self.hint,
            self.related,
            self.data,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "message_index": self.location.message_index,
        }
        if self.location.row is not None:
            out["row"] = self.location.row
        if self.hint:
            out["hint"] = self.hint
        if self.related is not None:
            out["related"] = self.related.to_dict()
        if self.data:
            out["data"] = self.data
        return out

    def format_line(self) -> str:
        """``file:line: severity code message`` (the compiler-style line editors and CI parse)."""
        where = str(self.location)
        idx = self.location.message_index
        msg = f" (message {idx})" if idx is not None else ""
        text = f"{where}: {self.severity.value} {self.code}{msg}: {self.message}"
        if self.hint:
            text += f" Fix: {self.hint}"
        return text


#: Keys that carry provenance, not content: they never enter an example's id.
PROVENANCE_KEYS = frozenset({"id", "source", "metadata"})


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages (``"array"``, ``"null"``...).

    Example:
        >>> json_type([1]), json_type(None), json_type(True), json_type(2.5)
        ('array', 'null', 'boolean', 'number')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def content_id(record: Any) -> str:
    """A stable id that depends only on the (NFC-normalised) content of a record.

    Provenance keys (``id``, ``source``, ``metadata``) are left out, key order does not
    matter, so the same example gets the same id from any file, format or run.

    Example:
        >>> a = {"messages": [{"role": "user", "content": "hi"}], "source": {"file": "a"}}
        >>> b = {"source": {"file": "b"}, "messages": [{"content": "hi", "role": "user"}]}
        >>> content_id(a) == content_id(b)
        True
    """
    if isinstance(record, dict):
        record = {k: v for k, v in record.items() if k not in PROVENANCE_KEYS}
    blob = _orjson_blob(record)
    if blob is None:
        text = _fast_blob(record)
        if text is None:
            text = _dumps(_normalise(record))
        blob = text.encode("utf-8")
    return hashlib.blake2b(blob, digest_size=10).hexdigest()


try:
    from orjson import OPT_SORT_KEYS as _SORT_KEYS
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson_dumps = None


def _orjson_blob(record: Any) -> bytes | None:
    """The UTF-8 bytes :func:`content_id` hashes, written by orjson (3x faster than the
    json module) when they are provably what ``_dumps`` writes; else ``None``.

    orjson with sorted keys writes what ``json.dumps(sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))`` writes for dicts with string keys, lists, tuples, strings,
    64-bit integers, booleans and null: the same escapes (the short ones and ``\\u00XX``
    for other control characters, nothing else), keys in code point order (UTF-8 byte
    order is code point order). Floats are written differently (``1e16`` against
    ``1e+16``, NaN as null), so a record holding any float, or any other type, goes the
    json way; whatever orjson refuses (lone surrogates, integers beyond 64 bits, keys
    that are not strings, deep nesting) too. The NFC and depth conditions are
    :func:`_fast_blob`'s.
    """
    if _orjson_dumps is None or not _plain_json(record):
        return None
    try:
        blob: bytes = _orjson_dumps(record, option=_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return None
    if blob.count(b"[") + blob.count(b"{") >= FAST_MAX_BRACKETS:
        return None
    if not blob.isascii() and not unicodedata.is_normalized("NFC", blob.decode("utf-8")):
        return None
    return blob


def _plain_json(value: Any) -> bool:
    """True when ``value`` holds only dicts, lists, tuples, strings, ints, booleans and
    None (no float, no other type), checked without recursion."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is dict:
            push([x for x in v.values() if type(x) is not str])
        elif t is list or t is tuple:
            push([x for x in v if type(x) is not str])
        elif t is not int and t is not bool and v is not None and t is not str:
            return False
    return True


#: the serialisation ids hash (one encoder object: ``json.dumps`` with these options
#: builds a new one per call)
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_dumps = _ENCODER.encode


#: the fast path of :func:`content_id` takes records with fewer ``[`` and ``{`` than this
#: (an upper bound of their nesting depth); deeper ones go the recursive way, which raises
#: ``RecursionError`` exactly where it always did (ingest's ``nested_too_deep``)
FAST_MAX_BRACKETS = 200


def _fast_blob(record: Any) -> str | None:
    """The JSON text :func:`content_id` hashes, serialised straight from ``record`` (at C
    speed) when that is provably the text the normalise-first way gives; else ``None``
    (the caller then normalises first, as it always did).

    Why it is the same text: normalising only replaces string values by their NFC form.
    If the whole serialisation is NFC, every string value in it is NFC already (JSON
    escaping only touches ``"``, the backslash and control characters, none of which
    composes with a following character, and an NFC text cut at such boundaries stays
    NFC), so normalising would change nothing. Anything unusual (a text not in NFC,
    deep nesting, a value JSON refuses) falls back.
    """
    try:
        if _ascii_first[0]:
            text = _ascii_dumps(record)
            if "\\u" in text:  # a character it escaped (or a literal backslash-u): redo
                _ascii_first[0] = False
                text = _dumps(record)
        else:
            text = _dumps(record)
            _ascii_first[0] = text.isascii()
    except (RecursionError, ValueError, TypeError):
        return None
    if text.count("[") + text.count("{") >= FAST_MAX_BRACKETS:
        return None
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        return None
    return text


#: The ASCII encoder is about a third faster, and its text is the very same as
#: ``_dumps``' when it holds no ``\\u`` escape (then every character was printable ASCII
#: or one of the short escapes both write alike). Which one is tried first follows the
#: last record (so text in other scripts is not encoded twice); either way the text is
#: the same.
_ascii_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
_ascii_first = [True]


@dataclass(slots=True)
class Example:
    """One parsed record and where it came from.

    ``data`` is whatever the line held (usually a dict in the OpenAI chat shape, but
    validators must cope with any JSON value: that is what ``data_type`` reports).
    """

    data: Any
    source: Location
    _id: str | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        if self._id is None:
            given = self.data.get("id") if isinstance(self.data, dict) else None
            self._id = given if isinstance(given, str) and given else content_id(self.data)
        return self._id

    @property
    def messages(self) -> list[Any] | None:
        if isinstance(self.data, dict):
            msgs = self.data.get("messages")
            if isinstance(msgs, list):
                return msgs
        return None


@dataclass(slots=True)
class Rejected:
    """An input that could not be turned into an example. Nothing is silently lost:
    rejects are written out with ``source``, ``reason`` (a stable code), ``message``
    and the original ``record`` (or raw text when it did not parse)."""

    source: Location
    reason: str
    message: str
    record: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "reason": self.reason,
            "message": self.message,
            "record": self.record,
        }


class CurateError(Exception):
    """A usage or input error: the CLI prints the message and exits 2 (no traceback)."""


class InputError(CurateError):
    """An input that cannot be read at all (missing file, a directory, unknown format)."""
