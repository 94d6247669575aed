"""What two examples are compared on: normalised text and exact keys.

Normalisation (for both exact keys and shingles): Unicode NFKC, case folding, every run
of whitespace collapsed to one space, ends stripped. A *scope* picks the turns compared:

- ``conversation``: every turn (system, user, assistant, tool; tool calls included),
- ``user``: the prompt side (system and user turns),
- ``assistant``: the assistant turns (their text and tool calls).

An assistant message's reasoning trace (``reasoning_content``, its aliases ``thinking`` and
``reasoning``, or an inline ``<think>`` / ``<thinking>`` trace in a string ``content`` that
was not ingested, found as ingest finds it: :func:`curate.ingest.reasoning.inline_trace`) is
*excluded* by default (``reasoning="exclude"``): the same prompt and answer are the same
example whatever their traces. ``reasoning="include"`` compares it too, as a turn's text
before its answer. Either way the trace counts as information when the copy to keep is
chosen (:func:`reasoning_chars`).

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
#: how an assistant message's reasoning trace is compared (``exclude`` is the default)
REASONING = ("exclude", "include")
_TRACE_KEYS = ("reasoning_content", "thinking", "reasoning")
#: what an inline trace's closing tag starts with (``</think>``, ``</thinking>``)
_CLOSE = "</think"
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


def check_reasoning(reasoning: str) -> str:
    """Return ``reasoning`` or raise ``ValueError`` naming the valid values."""
    if reasoning not in REASONING:
        raise ValueError(f"unknown reasoning mode {reasoning!r}: use one of {', '.join(REASONING)}")
    return reasoning


def split_trace(m: dict[str, Any]) -> tuple[str, Any]:
    """``(trace, content)`` of an assistant message: the trace is its ``reasoning_content``
    (or ``thinking`` / ``reasoning``) and an inline trace of a string ``content`` that ingest
    would split off (then removed from the returned content); ``""`` when it has none. Tags
    ingest would reject as ambiguous are left in the content.

    Example:
        >>> split_trace({"role": "assistant", "content": "<think>\\n2+2\\n</think>\\n\\n4"})
        ('2+2', '4')
        >>> split_trace({"role": "assistant", "reasoning_content": "add", "content": "4"})
        ('add', '4')
    """
    traces = [t for t in (m.get(k) for k in _TRACE_KEYS) if isinstance(t, str) and t]
    content = m.get("content")
    if isinstance(content, str) and _CLOSE in content:
        from curate.ingest.reasoning import find_inline_trace

        found = find_inline_trace(content)
        if found is not None:
            if found[0]:
                traces.append(found[0])
            content = found[1]
    return "\n".join(dict.fromkeys(traces)), content


def _content_text(content: Any) -> str:
    from curate.records import content_text

    return content_text(content)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _message_text(m: Any, reasoning: str = "exclude") -> tuple[str, str]:
    if not isinstance(m, dict):
        return "", _canonical(m)
    role = m.get("role")
    role = role if isinstance(role, str) else ""
    content = m.get("content")
    if role == "assistant":
        trace, content = split_trace(m)
        text = _content_text(content)
        if trace and reasoning == "include":
            text = f"{trace}\n{text}" if text else trace
    else:
        text = _content_text(content)
    calls = m.get("tool_calls")
    if calls:
        text = f"{text}\n{_canonical(calls)}" if text else _canonical(calls)
    fc = m.get("function_call")
    if fc:
        text = f"{text}\n{_canonical(fc)}" if text else _canonical(fc)
    return role, text


def _messages(data: Any) -> list[Any] | None:
    """The messages of a chat record (preference records flattened: input, then both
    outputs), or ``None`` for anything else."""
    if not isinstance(data, dict):
        return None
    msgs = data.get("messages")
    if isinstance(msgs, list):
        return msgs
    inp = data.get("input")
    if isinstance(inp, dict) and ("preferred_output" in data or "non_preferred_output" in data):
        out_msgs = [m for m in inp.get("messages") or [] if m is not None]
        for key in ("preferred_output", "non_preferred_output"):
            out = data.get(key)
            out_msgs.extend(out if isinstance(out, list) else [out] if out else [])
        return out_msgs
    return None


def raw_turns(data: Any, reasoning: str = "exclude") -> list[tuple[str, str]]:
    """Every turn of a record as ``(role, raw text)``, preference records flattened; an
    assistant's reasoning trace is left out (``reasoning="exclude"``, the default) or
    put before its answer (``"include"``)."""
    msgs = _messages(data)
    if msgs is not None:
        return [_message_text(m, reasoning) for m in msgs]
    if isinstance(data, dict):
        rest = {k: v for k, v in data.items() if k not in ("id", "source", "metadata")}
        return [("", _canonical(rest))]
    return [("", _canonical(data))]


def reasoning_chars(data: Any) -> int:
    """Characters of the normalised reasoning traces of a record's assistant messages: the
    information a trace adds, counted when the copy to keep is chosen (whatever the
    ``reasoning`` mode), so of two copies that differ only by their traces the one with the
    longer trace is kept.

    Example:
        >>> reasoning_chars({"messages": [{"role": "user", "content": "2+2?"},
        ...     {"role": "assistant", "reasoning_content": " Add  them. ", "content": "4"}]})
        9
    """
    msgs = _messages(data) or []
    total = 0
    for m in msgs:
        if isinstance(m, dict) and m.get("role") == "assistant":
            trace, _ = split_trace(m)
            if trace:
                total += len(normalize_text(trace))
    return total


def scope_turns(
    data: Any, scope: str = "conversation", reasoning: str = "exclude"
) -> list[tuple[str, str]]:
    """The normalised ``(role, text)`` turns of ``data`` that ``scope`` compares."""
    check_scope(scope)
    turns = raw_turns(data, check_reasoning(reasoning))
    return [(role, normalize_text(text)) for role, text in pick_turns(turns, scope)]


def pick_turns(turns: list[tuple[str, str]], scope: str) -> list[tuple[str, str]]:
    """The ``(role, text)`` turns that ``scope`` compares."""
    if scope == "user":
        return [t for t in turns if t[0] in _PROMPT_ROLES]
    if scope == "assistant":
        return [t for t in turns if t[0] in _ANSWER_ROLES]
    return turns


def scope_text(data: Any, scope: str = "conversation", reasoning: str = "exclude") -> str:
    """The normalised text of the turns in ``scope``, one turn per line."""
    return "\n".join(text for _, text in scope_turns(data, scope, reasoning))


def turn_digest(turns: list[tuple[str, str]]) -> bytes:
    """16-byte hash of a list of ``(role, text)`` turns."""
    blob = "".join([f"{role}\x1f{text}\x1e" for role, text in turns])
    return hashlib.blake2b(blob.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def exact_key(data: Any, scope: str = "conversation", reasoning: str = "exclude") -> bytes:
    """16-byte key: equal for records whose normalised turns in ``scope`` are equal (the
    reasoning traces compared or not, see :data:`REASONING`)."""
    return turn_digest(scope_turns(data, scope, reasoning))


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
