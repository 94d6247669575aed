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


def content_text(content: Any, *, non_text: str = "json") -> str:
    """The text of a message's ``content``, the one way every stage reads it (token
    counts, dedup, split's grouping, review, the trainer view): a string as it is; a list
    of content parts one part per line (as chat templates render them), a text part as
    its ``text``, any other part (an image, audio) as its canonical JSON with
    ``non_text="json"`` or left out with ``"skip"``; ``None`` as ``""``; any other value
    as its canonical JSON (or ``""`` with ``"skip"``).

    Example:
        >>> content_text([{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}])
        'Hi\\nthere'
        >>> content_text([{"type": "image_url", "image_url": {"url": "a.png"}}], non_text="skip")
        ''
    """
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    keep = non_text == "json"
    if isinstance(content, list):
        parts: list[str] = []
        for p in content:
            if isinstance(p, str):
                parts.append(p)
            elif isinstance(p, dict) and isinstance(p.get("text"), str):
                parts.append(p["text"])
            elif keep:
                parts.append(_canonical_json(p))
        return "\n".join(parts)
    return _canonical_json(content) if keep else ""


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


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
    """A stable id that depends only on the (NFC-normalised) content of a record: the
    BLAKE2b (80 bits) of its JSON with sorted keys, compact separators, no ASCII escaping.

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
    text = _dumps(_normalise(record))
    # a lone surrogate ("\ud800", from a JSON escape) is kept as its own bytes, so such a
    # record gets a stable id instead of an error
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


#: the one serialisation ids hash
_dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


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
        from curate.stage import reject_row

        return reject_row(self.source, self.reason, self.message, self.record)


class CurateError(Exception):
    """A usage or input error: the CLI prints the message and exits 2 (no traceback)."""


class InputError(CurateError):
    """An input that cannot be read at all (missing file, a directory, unknown format)."""
