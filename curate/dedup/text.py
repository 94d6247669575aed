"""What two examples are compared on: normalised text and exact keys.

Normalisation (for both exact keys and shingles): Unicode NFKC, case folding, every run
of whitespace collapsed to one space, ends stripped. A *scope* picks the turns compared:

- ``conversation``: every turn (system, user, assistant, tool; tool calls included),
- ``user``: the prompt side (system and user turns),
- ``assistant``: the assistant turns (their text and tool calls).

Preference records (``input`` / ``preferred_output`` / ``non_preferred_output``) count as
the input messages followed by the outputs. Anything else (a JSON value that is not a chat
record) is compared on its canonical JSON text, so nothing is silently equal to anything.

Example:
    >>> normalize_text("  Ｈｅｌｌｏ\\n\\tWORLD ")
    'hello world'
    >>> ex = {"messages": [{"role": "user", "content": "Hi"},
    ...                    {"role": "assistant", "content": "Hello!"}]}
    >>> scope_turns(ex, "user")
    [('user', 'hi')]
    >>> exact_key(ex) == exact_key({"messages": [{"role": "user", "content": " hi "},
    ...                                          {"role": "assistant", "content": "HELLO!"}]})
    True
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

SCOPES = ("conversation", "user", "assistant")
_PROMPT_ROLES = frozenset({"system", "developer", "user"})
_ANSWER_ROLES = frozenset({"assistant"})


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed and stripped.

    ``str.split()`` splits on exactly the characters ``\\s`` matches in a ``str`` regex
    (both use ``str.isspace``), so this equals ``re.sub(r"\\s+", " ", t).strip()`` (a test
    checks every code point) at several times its speed.

    Example:
        >>> normalize_text("  Hello\\u00a0 WORLD\\n ﬁne ")
        'hello world fine'
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def check_scope(scope: str) -> str:
    """Return ``scope`` or raise ``ValueError`` naming the valid ones."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    return scope


def _content_text(content: Any) -> str:
    from curate.records import content_text

    return content_text(content)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _message_text(m: Any) -> tuple[str, str]:
    if not isinstance(m, dict):
        return "", _canonical(m)
    role = m.get("role")
    role = role if isinstance(role, str) else ""
    text = _content_text(m.get("content"))
    calls = m.get("tool_calls")
    if calls:
        text = f"{text}\n{_canonical(calls)}" if text else _canonical(calls)
    fc = m.get("function_call")
    if fc:
        text = f"{text}\n{_canonical(fc)}" if text else _canonical(fc)
    return role, text


def raw_turns(data: Any) -> list[tuple[str, str]]:
    """Every turn of a record as ``(role, raw text)``, preference records flattened."""
    if isinstance(data, dict):
        msgs = data.get("messages")
        if isinstance(msgs, list):
            return [_message_text(m) for m in msgs]
        inp = data.get("input")
        if isinstance(inp, dict) and ("preferred_output" in data or "non_preferred_output" in data):
            turns = [_message_text(m) for m in inp.get("messages") or [] if m is not None]
            for key in ("preferred_output", "non_preferred_output"):
                out = data.get(key)
                for m in out if isinstance(out, list) else [out] if out else []:
                    turns.append(_message_text(m))
            return turns
        rest = {k: v for k, v in data.items() if k not in ("id", "source", "metadata")}
        return [("", _canonical(rest))]
    return [("", _canonical(data))]


def scope_turns(data: Any, scope: str = "conversation") -> list[tuple[str, str]]:
    """The normalised ``(role, text)`` turns of ``data`` that ``scope`` compares."""
    check_scope(scope)
    return [(role, normalize_text(text)) for role, text in pick_turns(raw_turns(data), scope)]


def pick_turns(turns: list[tuple[str, str]], scope: str) -> list[tuple[str, str]]:
    """The ``(role, text)`` turns that ``scope`` compares."""
    if scope == "user":
        return [t for t in turns if t[0] in _PROMPT_ROLES]
    if scope == "assistant":
        return [t for t in turns if t[0] in _ANSWER_ROLES]
    return turns


def scope_text(data: Any, scope: str = "conversation") -> str:
    """The normalised text of the turns in ``scope``, one turn per line."""
    return "\n".join(text for _, text in scope_turns(data, scope))


def turn_digest(turns: list[tuple[str, str]]) -> bytes:
    """16-byte hash of a list of ``(role, text)`` turns."""
    blob = "".join([f"{role}\x1f{text}\x1e" for role, text in turns])
    return hashlib.blake2b(blob.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def exact_key(data: Any, scope: str = "conversation") -> bytes:
    """16-byte key: equal for records whose normalised turns in ``scope`` are equal."""
    return turn_digest(scope_turns(data, scope))


def prompt_key(example: Any) -> str:
    """Hex hash of the normalised system and user turns: the same prompt, whatever the
    answers. Accepts an :class:`~curate.records.Example` or a raw record.

    Example:
        >>> a = {"messages": [{"role": "user", "content": "2+2?"},
        ...                   {"role": "assistant", "content": "4"}]}
        >>> b = {"messages": [{"role": "user", "content": "2+2? "},
        ...                   {"role": "assistant", "content": "four"}]}
        >>> prompt_key(a) == prompt_key(b)
        True
    """
    data = getattr(example, "data", example)
    return exact_key(data, "user").hex()
