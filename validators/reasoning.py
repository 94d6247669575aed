"""Reasoning traces: an assistant message's thinking (``reasoning_content``, or an inline
``<think>...</think>`` block in ``content``) and its final answer (``content``).

Codes (docs/ingest.md describes the record; ``curate ingest`` splits inline blocks):

- ``reasoning_unclosed`` (error): a ``<think>`` with no ``</think>`` after it, in the
  content or in the trace: the trainer learns a trace that never ends.
- ``reasoning_empty`` (warning): ``reasoning_content`` is empty or whitespace.
- ``reasoning_without_answer`` (error): a trace and no final answer (no content text and no
  tool call after it), as a truncated generation leaves.
- ``think_tags_in_answer`` (warning): think tags (``<think>``, ``<thinking>`` and their
  closing tags) left inside the final content, so the answer the model learns contains
  them; a tag next to a quote or backtick is a mention, not reported.

Only assistant messages are read (``messages``; for preference data the input's messages
and both outputs). Findings carry the message index.

Example:
    >>> from curate.records import Example, Location
    >>> ex = Example({"messages": [{"role": "user", "content": "2+2?"},
    ...     {"role": "assistant", "reasoning_content": "2 + 2 = 4", "content": ""}]},
    ...     Location("r.jsonl", 1))
    >>> [(f.code, f.location.message_index) for f in Reasoning().check(ex)]
    [('reasoning_without_answer', 1)]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from curate.ingest.base import Reject
from curate.ingest.reasoning import TAGS, inline_trace, tag_outside_quotes
from curate.records import Example, Finding, Location, Severity, content_text

OPEN, CLOSE = "<think>", "</think>"
REASONING_KEY = "reasoning_content"

#: code -> (severity, what it finds); the validator's documentation in one place
CODES: dict[str, tuple[Severity, str]] = {
    "reasoning_unclosed": (Severity.ERROR, "a <think> without </think> in content or trace"),
    "reasoning_empty": (Severity.WARNING, "reasoning_content is empty or whitespace"),
    "reasoning_without_answer": (Severity.ERROR, "a thinking trace and no final answer"),
    "think_tags_in_answer": (Severity.WARNING, "think tags left inside the final content"),
}


def _finding(code: str, message: str, loc: Location, hint: str) -> Finding:
    return Finding(code, CODES[code][0], message, loc, hint=hint)


def _unclosed(text: str) -> bool:
    """A ``<think>`` (or ``<thinking>``) that no later closing tag closes."""
    for open_tag, close_tag in TAGS:
        start = text.rfind(open_tag)
        if start >= 0 and text.find(close_tag, start) < 0:
            return True
    return False


def _assistant_messages(data: Any) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
    """``(message index or None, where, message)`` for every assistant message."""
    if not isinstance(data, dict):
        return
    if "input" in data and "preferred_output" in data:  # OpenAI preference (DPO) record
        inp = data.get("input")
        msgs = inp.get("messages") if isinstance(inp, dict) else None
        for key in ("preferred_output", "non_preferred_output"):
            out = data.get(key)
            for m in out if isinstance(out, list) else ():
                if isinstance(m, dict) and m.get("role") == "assistant":
                    yield None, f"{key}: ", m
    else:
        msgs = data.get("messages")
    for i, m in enumerate(msgs if isinstance(msgs, list) else ()):
        if isinstance(m, dict) and m.get("role") == "assistant":
            yield i, "", m


@dataclass(frozen=True, slots=True)
class Reasoning:
    """The reasoning-trace checks (see the module docstring)."""

    name: str = "reasoning"

    def check(self, ex: Example) -> Iterator[Finding]:
        for i, where, m in _assistant_messages(ex.data):
            c = m.get("content")
            if type(c) is str and "think" not in c and REASONING_KEY not in m:
                continue  # the common reply: no trace, no tag (nothing to report)
            yield from self._message(m, where, ex.source.with_message(i))

    def _message(self, m: dict[str, Any], where: str, loc: Location) -> Iterator[Finding]:
        trace = m.get(REASONING_KEY)
        trace = trace if isinstance(trace, str) else None
        raw = m.get("content")
        answer = content_text(raw, non_text="skip")
        calls = bool(m.get("tool_calls")) or bool(m.get("function_call"))
        if trace is not None and _unclosed(trace):
            yield _finding(
                "reasoning_unclosed",
                f"{where}reasoning_content opens <think> and never closes it",
                loc,
                "remove the tag from reasoning_content (the trace needs no tags), or close it",
            )
        inline = answer.lstrip().startswith(tuple(o for o, _ in TAGS))
        if _unclosed(answer):
            yield _finding(
                "reasoning_unclosed",
                f"{where}content opens <think> and never closes it (a truncated generation?)",
                loc,
                "drop the example or regenerate it; a trace that never ends teaches the model "
                "not to answer",
            )
        elif tag_outside_quotes(answer):
            try:
                split = inline_trace(answer)
            except Reject:
                split = None  # ambiguous: ingest rejects it
            if inline and split is not None and not split[1].strip() and not calls:
                yield _finding(
                    "reasoning_without_answer",
                    f"{where}content is a <think> block with no answer after it",
                    loc,
                    "add the final answer after </think>, or drop the example",
                )
            yield _finding(
                "think_tags_in_answer",
                f"{where}the final content contains think tags"
                + (" (an inline <think> block)" if inline else ""),
                loc,
                "run curate ingest to move the trace before the closing tag into reasoning_content"
                if split is not None and trace is None and split[1].strip()
                else "remove the think tags from the answer, or move the trace into "
                "reasoning_content",
            )
        if trace is None:
            return
        if not trace.strip():
            yield _finding(
                "reasoning_empty",
                f"{where}reasoning_content is empty" + (" (whitespace only)" if trace else ""),
                loc,
                "remove the empty reasoning_content or fill in the trace",
            )
        elif not answer.strip() and not calls:
            yield _finding(
                "reasoning_without_answer",
                f"{where}the message has a reasoning trace ({len(trace)} characters) and no "
                "final answer",
                loc,
                "add the final answer to content, or drop the example (a truncated generation?)",
            )
