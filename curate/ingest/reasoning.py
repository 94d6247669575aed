"""Reasoning traces in the canonical record: one representation for every format.

An assistant message carries its thinking trace in ``reasoning_content`` (the field Hugging
Face chat templates such as Qwen3's read) and its final answer in ``content``::

    {"role": "assistant", "reasoning_content": "2 + 2 is 4.", "content": "4"}

:func:`split_reasoning` brings an assistant message to that shape:

- ``reasoning_content`` is kept as given;
- ``thinking`` or ``reasoning`` (other common names: gpt-oss templates, OpenRouter and
  recent vLLM responses) becomes ``reasoning_content``;
- an inline ``<think>...</think>`` (or ``<thinking>...</thinking>``) block at the start of
  a string ``content`` is split off: the trace (newlines around it removed) goes to
  ``reasoning_content``, what follows (leading newlines removed) stays in ``content``, as
  the Qwen3 chat template itself splits such a content. An empty block
  (``<think>\\n\\n</think>``, Qwen3's non-thinking form) means no trace and is removed;
- Sky-T1 / Bespoke-Stratos / OpenThoughts (v1) markers,
  ``<|begin_of_thought|>trace<|end_of_thought|>`` then the answer, itself possibly wrapped in
  ``<|begin_of_solution|>...<|end_of_solution|>`` (unwrapped; see :func:`thought_markers`);
- DeepSeek-R1's shape, ``trace</think>answer`` (its chat template puts ``<think>\\n`` in
  the generation prompt, so the data holds only the closing tag), is split the same way
  when the content has exactly one closing tag and no opening tag (see
  :func:`inline_trace`).

What cannot be split faithfully raises :class:`~curate.ingest.base.Reject` with the reason
``bad_reasoning``: an unclosed ``<think>``, a closing tag that appears more than once
without an opening tag, a second block or stray tag after a leading block, ``<think>`` and
``<thinking>`` tags mixed, a trace with no answer after it, an inline block beside a
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
ALIASES = ("thinking", "reasoning")
#: every field an assistant message's trace may be found in (the canonical one first)
TRACE_KEYS = (REASONING_KEY, *ALIASES)
OPEN, CLOSE = "<think>", "</think>"
#: the inline tag pairs a trace is written in
TAGS = ((OPEN, CLOSE), ("<thinking>", "</thinking>"))
QUOTES = "`'\""
#: the markers of Sky-T1 / Bespoke-Stratos / OpenThoughts (v1) distillation data
BEGIN_THOUGHT, END_THOUGHT = "<|begin_of_thought|>", "<|end_of_thought|>"
BEGIN_SOLUTION, END_SOLUTION = "<|begin_of_solution|>", "<|end_of_solution|>"


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
    if not isinstance(content, str) or ("think" not in content and BEGIN_THOUGHT not in content):
        return message
    split = inline_trace(content, where)
    if split is None:
        return message  # tags inside the answer: curate validate reports think_tags_in_answer
    inner, answer = split
    if trace is not None:
        raise Reject(
            "bad_reasoning",
            f'{where} has "{REASONING_KEY}" and also an inline thinking block in its content; '
            "keep one trace",
        )
    if not answer.strip() and not message.get("tool_calls"):
        raise Reject(
            "bad_reasoning",
            f"{where}: the thinking trace is not followed by an answer (a truncated generation?)",
        )
    message["content"] = answer
    if inner.strip():
        message[REASONING_KEY] = inner
    return message


def _quoted(content: str, start: int, end: int) -> bool:
    """The tag at ``content[start:end]`` is written next to a quote or backtick: a mention
    of the tag in prose or code, not a trace's end."""
    before = content[start - 1 : start] if start else ""
    after = content[end : end + 1]
    return bool(before and before in QUOTES) or bool(after and after in QUOTES)


def tag_outside_quotes(text: str) -> bool:
    """``text`` holds a think tag (``<think>``, ``</think>``, ``<thinking>``,
    ``</thinking>``) that is not a quoted mention (next to a quote or backtick).

    Example:
        >>> tag_outside_quotes("No. </think>"), tag_outside_quotes("Close it with `</think>`.")
        (True, False)
    """
    if "think" not in text:
        return False
    for pair in TAGS:
        for tag in pair:
            k = text.find(tag)
            while k >= 0:
                if not _quoted(text, k, k + len(tag)):
                    return True
                k = text.find(tag, k + 1)
    return False


def inline_trace(content: str, where: str = "message") -> tuple[str, str] | None:
    """``(trace, answer)`` when ``content`` holds an inline thinking trace that can be split
    faithfully, ``None`` when it holds no trace to split (no tags, or tags quoted or inside
    the answer: left as they are). Raises ``Reject("bad_reasoning")`` when the tags make
    the split ambiguous. The trace has its surrounding newlines removed, the answer its
    leading newlines (as the Qwen3 chat template splits it); either may be empty.

    Two shapes are split, with ``<think>`` or ``<thinking>`` tags:

    - a leading block, ``<think>trace</think>answer`` (Qwen3, QwQ, most distillation sets);
    - DeepSeek-R1's, ``trace</think>answer``: its chat template ends the generation prompt
      with ``<think>\\n``, so the data holds only the closing tag. One closing tag and no
      opening tag anywhere; a closing tag between quotes or backticks is a mention, not
      a trace's end.

    Example:
        >>> inline_trace("<thinking>\\n2 + 2 = 4\\n</thinking>\\n\\n4")
        ('2 + 2 = 4', '4')
        >>> inline_trace("2 + 2 = 4\\n</think>\\n\\n4")
        ('2 + 2 = 4', '4')
        >>> inline_trace("Close the trace with `</think>`.") is None
        True
    """
    if content.lstrip().startswith(BEGIN_THOUGHT):
        return thought_markers(content, where)
    found = [(o, c) for o, c in TAGS if o in content or c in content]
    if not found:
        return None
    if len(found) > 1:
        raise Reject(
            "bad_reasoning",
            f"{where}: mixes <think> and <thinking> tags; keep one leading block of one kind",
        )
    open_tag, close_tag = found[0]
    body = content.lstrip()
    if body.startswith(open_tag):
        end = body.find(close_tag)
        if end < 0:
            raise Reject("bad_reasoning", f"{where}: {open_tag} is never closed by {close_tag}")
        inner, answer = body[len(open_tag) : end], body[end + len(close_tag) :]
        if open_tag in inner or open_tag in answer or close_tag in answer:
            raise Reject(
                "bad_reasoning",
                f"{where}: more than one {open_tag} block, or a stray think tag after the "
                f"first; keep one leading {open_tag}...{close_tag} block",
            )
        return inner.strip("\n"), answer.lstrip("\n")
    if open_tag in content:
        return None  # an opening tag inside the text: not a leading trace
    ends = []
    k = content.find(close_tag)
    while k >= 0:
        ends.append(k)
        k = content.find(close_tag, k + 1)
    real = [k for k in ends if not _quoted(content, k, k + len(close_tag))]
    if not real:
        return None  # the tag is only mentioned
    if len(ends) == 1:
        # DeepSeek-R1: the template wrote the opening tag, the data starts inside the trace
        end = ends[0]
        inner, answer = content[:end], content[end + len(close_tag) :]
        return inner.strip("\n"), answer.lstrip("\n")
    raise Reject(
        "bad_reasoning",
        f"{where}: {close_tag} appears more than once without an opening {open_tag}, so "
        f"where the trace ends is ambiguous; keep one trace ending in {close_tag} (or move "
        "the trace to reasoning_content)",
    )


def thought_markers(content: str, where: str = "message") -> tuple[str, str]:
    """``(trace, answer)`` of a content in the Sky-T1 / Bespoke-Stratos / OpenThoughts
    shape: ``<|begin_of_thought|>trace<|end_of_thought|>`` then the answer, which may be
    wrapped in ``<|begin_of_solution|>...<|end_of_solution|>`` (the wrapper is removed: the
    answer is what it holds). Raises ``Reject("bad_reasoning")`` on an unclosed or repeated
    marker.

    Example:
        >>> thought_markers("<|begin_of_thought|>\\n\\n2 + 2 = 4\\n\\n<|end_of_thought|>\\n\\n"
        ...                 "<|begin_of_solution|>\\n\\nThe answer is 4.\\n\\n<|end_of_solution|>")
        ('2 + 2 = 4', 'The answer is 4.')
    """
    body = content.lstrip()[len(BEGIN_THOUGHT) :]
    end = body.find(END_THOUGHT)
    if end < 0:
        raise Reject("bad_reasoning", f"{where}: {BEGIN_THOUGHT} is never closed by {END_THOUGHT}")
    inner, answer = body[:end], body[end + len(END_THOUGHT) :]
    if BEGIN_THOUGHT in inner or BEGIN_THOUGHT in answer or END_THOUGHT in answer:
        raise Reject(
            "bad_reasoning",
            f"{where}: more than one {BEGIN_THOUGHT} block, or a stray thought marker after "
            "the first; keep one leading block",
        )
    stripped = answer.strip()
    if BEGIN_SOLUTION in stripped or END_SOLUTION in stripped:
        if not (
            stripped.startswith(BEGIN_SOLUTION)
            and stripped.endswith(END_SOLUTION)
            and stripped.count(BEGIN_SOLUTION) == stripped.count(END_SOLUTION) == 1
        ):
            raise Reject(
                "bad_reasoning",
                f"{where}: the answer after {END_THOUGHT} is not one "
                f"{BEGIN_SOLUTION}...{END_SOLUTION} block (unclosed, repeated or with text "
                "around it)",
            )
        return inner.strip("\n"), stripped[len(BEGIN_SOLUTION) : -len(END_SOLUTION)].strip("\n")
    return inner.strip("\n"), answer.lstrip("\n")


def find_inline_trace(content: str) -> tuple[str, str] | None:
    """:func:`inline_trace` for readers that take the data as it is (dedup, the trainer
    view, review): ``None`` also when the tags are ambiguous (where ingest rejects), so such
    a content is read as one text.

    Example:
        >>> find_inline_trace("<think>a</think>b"), find_inline_trace("<think>never closed")
        (('a', 'b'), None)
    """
    try:
        return inline_trace(content)
    except Reject:
        return None


def split_assistant_messages(messages: list[Any], key: str = "messages") -> list[Any]:
    """:func:`split_reasoning` applied to every assistant message (dicts) of ``messages``."""
    for i, m in enumerate(messages):
        if isinstance(m, dict) and m.get("role") == "assistant":
            split_reasoning(m, f"{key}[{i}]")
    return messages
