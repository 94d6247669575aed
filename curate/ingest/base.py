"""The ingestor protocol, the registry, and the helpers every format module shares.

An ingestor turns one input record (a dict read from JSONL, a JSON array, a CSV row, a
Parquet row...) into one canonical record, or raises :class:`Reject` with a stable reason
code. Reading files is not its business (see :mod:`curate.ingest.readers`), so a new format
is one small module with a ``detect`` and a pure ``convert``::

    @register("alpaca")
    class Alpaca:
        required = frozenset({"instruction", "output"})
        def convert(self, record: dict, options: IngestOptions) -> dict: ...

Example:
    >>> ing = get("alpaca")
    >>> ing.convert({"instruction": "Say hi", "input": "", "output": "hi"}, IngestOptions())
    {'messages': [{'role': 'user', 'content': 'Say hi'}, {'role': 'assistant', 'content': 'hi'}]}
    >>> get("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    curate.records.InputError: unknown format 'nope'; choose one of: alpaca, ...
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from curate.records import InputError, json_type

#: Stable reason codes a record can be rejected with (documented in docs/ingest.md).
REASONS: dict[str, str] = {
    "invalid_json": "the line or array element is not valid JSON",
    "invalid_encoding": "the bytes are not valid UTF-8",
    "not_an_object": "the record is a JSON array, string or number, not an object",
    "missing_field": "a field the format requires is absent",
    "wrong_type": "a field has the wrong JSON type",
    "empty_field": "a field the example needs (prompt, reply) is empty or whitespace",
    "unknown_role": "a ShareGPT turn or message has a role curate cannot map",
    "bad_tool_call": "a function_call / observation turn cannot become tool_calls",
    "bad_tools": "the tools definition is not a JSON list of functions",
    "bad_reasoning": "a thinking trace cannot be split from the answer (unclosed or stray "
    "<think> tag, no answer after the trace, two different traces)",
    "bad_loss_weight": "a LLaMA-Factory loss_weight other than 0 or 1 on an assistant message, "
    "or not 0 on another role",
    "unsupported_content": "a typed content part curate cannot map (an unknown part type) "
    "or a part on a role that cannot carry it",
    "media_mismatch": "the <image>/<video>/<audio> placeholders do not match the media listed "
    "in the images/videos/audios columns",
    "bad_media": "a media item that is not a path or URL (embedded bytes, a list of frames, "
    "an empty string)",
    "no_prompt": "preference data without a prompt and without a shared conversation prefix",
    "not_chat": "a language-modelling row (plain text) has no user/assistant turns",
    "nested_too_deep": "the record nests lists/objects too deeply to process",
    "conversion_error": "an unexpected error while converting (please report it)",
}


class Reject(Exception):
    """Raised by :meth:`Ingestor.convert` when a record cannot become an example."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reject reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class IngestOptions:
    """Options that change how records convert (the CLI's ``--map`` and ``--system``).

    Args:
        maps: target -> source column for the ``columns`` format (``user``, ``assistant``,
            ``system``), from ``--map user=question``.
        system: a system prompt added to every example that has none.
        output: the JSONL the records will be written to: relative media paths are
            rewritten relative to its folder (``None``: relative to the source file's).
        media_dir: a folder where relative media paths are looked up first (LLaMA-Factory's
            ``media_dir``), before the source file's folder.
    """

    maps: Mapping[str, str] = field(default_factory=dict)
    system: str | None = None
    output: str | None = None
    media_dir: str | None = None


@runtime_checkable
class Ingestor(Protocol):
    """One input format.

    Attributes:
        name: the registry key (``--format NAME``).
        description: one line for ``--help`` and the docs.
        required: keys a record must have for auto-detection to consider this format.
        excluded: keys that rule this format out (the record belongs to another one).
        fallback: only chosen when no other format fits (plain ``text``).
    """

    name: str
    description: str
    required: frozenset[str]
    excluded: frozenset[str]
    fallback: bool

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        """Return the canonical record (without ``id``/``source``) or raise :class:`Reject`."""
        ...


class BaseIngestor:
    """Defaults for :class:`Ingestor` attributes; subclasses set ``required``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    required: ClassVar[frozenset[str]] = frozenset()
    excluded: ClassVar[frozenset[str]] = frozenset()
    fallback: ClassVar[bool] = False

    def matches(self, keys: frozenset[str]) -> bool:
        return bool(self.required) and self.required <= keys and not (self.excluded & keys)


REGISTRY: dict[str, Ingestor] = {}
T = TypeVar("T")


def register(name: str) -> Callable[[type[T]], type[T]]:
    """Class decorator adding an ingestor under ``name``; a second registration raises."""

    def deco(cls: type[T]) -> type[T]:
        if name in REGISTRY:
            raise ValueError(f"ingest format {name!r} is already registered")
        cls.name = name  # type: ignore[attr-defined]
        REGISTRY[name] = cls()  # type: ignore[assignment]
        return cls

    return deco


def get(name: str) -> Ingestor:
    """The ingestor registered as ``name``; an unknown name lists the valid ones."""
    _load_builtin()
    if name not in REGISTRY:
        raise InputError(f"unknown format {name!r}; choose one of: {', '.join(names())}")
    return REGISTRY[name]


def names() -> list[str]:
    _load_builtin()
    return sorted(REGISTRY)


def _load_builtin() -> None:
    import curate.ingest.builtin  # noqa: F401  (registers the built-in formats)


# -- helpers shared by the format modules --------------------------------------------------


def require(record: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``record[key]`` checked for presence and type, else :class:`Reject`."""
    if key not in record or record[key] is None:
        have = ", ".join(sorted(record)) or "none"
        raise Reject("missing_field", f'field "{key}" is missing (have: {have})')
    value = record[key]
    if not isinstance(value, kind):
        raise Reject(
            "wrong_type", f'field "{key}" is a JSON {json_type(value)}, expected {_kind(kind)}'
        )
    return value


def text_field(record: Mapping[str, Any], key: str, *, allow_empty: bool = False) -> str:
    """A string field; numbers are turned into text, empty strings rejected unless allowed."""
    value = record.get(key)
    if value is None:
        if allow_empty:
            return ""
        if key in record:
            raise Reject("empty_field", f'field "{key}" is null')
        have = ", ".join(sorted(record)) or "none"
        raise Reject("missing_field", f'field "{key}" is missing (have: {have})')
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Reject("wrong_type", f'field "{key}" is a JSON {json_type(value)}, expected a string')
    text = value if isinstance(value, str) else str(value)
    if not allow_empty and not text.strip():
        raise Reject("empty_field", f'field "{key}" is empty')
    return text


def extras(record: Mapping[str, Any], used: set[str] | frozenset[str]) -> dict[str, Any]:
    """Keys of ``record`` a format does not consume (they go under ``metadata``)."""
    out: dict[str, Any] = {}
    given = record.get("metadata")
    if isinstance(given, dict):
        out.update(given)
    elif "metadata" in record and given is not None:
        out["metadata"] = given
    for k, v in record.items():
        if k not in used and k != "metadata":
            out[k] = v
    return out


def finish(
    body: dict[str, Any], metadata: dict[str, Any], options: IngestOptions
) -> dict[str, Any]:
    """Add ``--system`` where no system message exists and attach ``metadata``."""
    if options.system:
        msgs = body["input"]["messages"] if "input" in body else body.get("messages")
        if isinstance(msgs, list) and not any(
            isinstance(m, dict) and m.get("role") == "system" for m in msgs
        ):
            msgs.insert(0, {"role": "system", "content": options.system})
    if metadata:
        body["metadata"] = metadata
    return body


def parse_json_text(value: Any, what: str, reason: str) -> Any:
    """``value`` parsed when it is a JSON string, else returned as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise Reject(reason, f"{what} is not valid JSON: {e.msg} at column {e.colno}") from e
    return value


def _kind(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {list: "an array", dict: "an object", str: "a string", int: "a number"}
    return " or ".join(words.get(k, k.__name__) for k in kinds)


def to_messages(value: Any, key: str, default_role: str) -> list[dict[str, Any]]:
    """A prompt or reply field as messages: a string becomes one ``default_role`` message,
    a list of ``{role, content}`` objects is copied (roles checked), a single message
    object is wrapped."""
    if isinstance(value, str):
        if not value.strip():
            raise Reject("empty_field", f'field "{key}" is empty')
        return [{"role": default_role, "content": value}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise Reject(
            "wrong_type",
            f'field "{key}" is a JSON {json_type(value)}, expected a string or a list of messages',
        )
    if not value:
        raise Reject("empty_field", f'field "{key}" is an empty list')
    out: list[dict[str, Any]] = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise Reject(
                "wrong_type", f"{key}[{i}] is a JSON {json_type(m)}, expected a message object"
            )
        if "role" not in m:
            raise Reject("missing_field", f'{key}[{i}] has no "role"')
        if m["role"] not in CHAT_ROLES:
            raise Reject(
                "unknown_role",
                f"{key}[{i}] has role {m['role']!r}; expected one of "
                + ", ".join(sorted(CHAT_ROLES)),
            )
        out.append(dict(m))
    return out


#: roles of OpenAI's chat format (``function`` is the legacy name of ``tool``)
CHAT_ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
