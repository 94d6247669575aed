"""Reasoning traces in the canonical record: one representation for every format.

An assistant message carries its thinking trace in ``reasoning_content`` (the field Hugging
Face chat templates such as Qwen3's read) and its final answer in ``content``::

    {"role": "assistant", "reasoning_content": "2 + 2 is 4.", "content": "4"}

:func:`split_reasoning` brings an assistant message to that shape:

- ``reasoning_content`` is kept as given;
- ``thinking`` (another common name) becomes ``reasoning_content``;
- an inline ``<think>...</think>`` block at the start of a string ``content`` is split off:
  the trace (newlines around it removed) goes to ``reasoning_content``, what follows
  (leading newlines removed) stays in ``content``, as the Qwen3 chat template itself splits
  such a content. An empty block (``<think>\\n\\n</think>``, Qwen3's non-thinking form)
  means no trace and is removed.

What cannot be split faithfully raises :class:`~curate.ingest.base.Reject` with the reason
``bad_reasoning``: an unclosed ``<think>``, a ``</think>`` without its opening tag, a
second block or stray tag, a trace with no answer after it, an inline block beside a
``reasoning_content``, or two different traces (``thinking`` and ``reasoning_content``).

Example:
    >>> split_reasoning({"role": "assistant", "content": "<think>\\n2 + 2 = 4\\n</think>\\n\\n4"})
    {'role': 'assistant', 'content': '4', 'reasoning_content': '2 + 2 = 4'}
    >>> split_reasoning({"role": "assistant", "content": "<think>2 + 2"}, "messages[1]")
    Traceback (most recent call last):
    ...
    curate.ingest.base.Reject: messages[1]: <think> is never closed by </think>
"""

from __future__ import annotations

from typing import Any

from curate.ingest.base import Reject, json_type

#: the canonical field of an assistant message's thinking trace
REASONING_KEY = "reasoning_content"
#: other names of that field, mapped to it
ALIASES = ("thinking",)
OPEN, CLOSE = "<think>", "</think>"


def split_reasoning(message: dict[str, Any], where: str = "message") -> dict[str, Any]:
    """``message`` (an assistant message, changed in place and returned) with its trace in
    ``reasoning_content`` and its answer in ``content``; raises ``Reject("bad_reasoning")``
    when that cannot be done faithfully (see the module docstring)."""
    for alias in ALIASES:
        if alias not in message:
            continue
        value = message.pop(alias)
        if REASONING_KEY in message and message[REASONING_KEY] != value:
            raise Reject(
                "bad_reasoning",
                f'{where} has both "{alias}" and "{REASONING_KEY}" with different traces; keep one',
            )
        message[REASONING_KEY] = value
    trace = message.get(REASONING_KEY)
    if trace is not None and not isinstance(trace, str):
        raise Reject(
            "wrong_type",
            f'{where} "{REASONING_KEY}" is a JSON {json_type(trace)}, expected a string',
        )
    content = message.get("content")
    if not isinstance(content, str) or (OPEN not in content and CLOSE not in content):
        return message
    body = content.lstrip()
    if not body.startswith(OPEN):
        if CLOSE in content and OPEN not in content:
            raise Reject(
                "bad_reasoning",
                f"{where}: </think> without an opening <think> (the trace's start is missing); "
                "add <think> at the start of the content or move the trace to reasoning_content",
            )
        return message  # tags inside the answer: curate validate reports think_tags_in_answer
    end = body.find(CLOSE)
    if end < 0:
        raise Reject("bad_reasoning", f"{where}: <think> is never closed by </think>")
    inner, answer = body[len(OPEN) : end], body[end + len(CLOSE) :]
    if OPEN in inner or OPEN in answer or CLOSE in answer:
        raise Reject(
            "bad_reasoning",
            f"{where}: more than one <think> block, or a stray think tag after the first; "
            "keep one leading <think>...</think> block",
        )
    if trace is not None:
        raise Reject(
            "bad_reasoning",
            f'{where} has "{REASONING_KEY}" and also an inline <think> block in its content; '
            "keep one trace",
        )
    inner, answer = inner.strip("\n"), answer.lstrip("\n")
    if not answer.strip() and not message.get("tool_calls"):
        raise Reject(
            "bad_reasoning",
            f"{where}: the <think> trace is not followed by an answer (a truncated generation?)",
        )
    message["content"] = answer
    if inner.strip():
        message[REASONING_KEY] = inner
    return message


def split_assistant_messages(messages: list[Any], key: str = "messages") -> list[Any]:
    """:func:`split_reasoning` applied to every assistant message (dicts) of ``messages``."""
    for i, m in enumerate(messages):
        if isinstance(m, dict) and m.get("role") == "assistant":
            split_reasoning(m, f"{key}[{i}]")
    return messages
