"""Alpaca: ``instruction``, ``input``, ``output``, optional ``system`` and ``history``
(a list of ``[instruction, response]`` pairs), as a JSON array or JSONL.

The user turn is the instruction and, when the input is not empty, a newline and the input
(the way LLaMA-Factory joins them). History pairs come first, the system prompt before all.

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> rec = {"instruction": "Translate", "input": "bonjour", "output": "hello"}
    >>> Alpaca().convert(rec, IngestOptions())["messages"][0]
    {'role': 'user', 'content': 'Translate\\nbonjour'}
"""

from __future__ import annotations

from typing import Any

from curate.ingest.base import (
    BaseIngestor,
    IngestOptions,
    Reject,
    extras,
    finish,
    json_type,
    register,
    text_field,
)


def instruction_prompt(record: dict[str, Any], instruction: str, extra: str) -> str:
    """``instruction`` and ``extra`` (input / context) joined by a newline, empties skipped."""
    first = text_field(record, instruction, allow_empty=True)
    second = text_field(record, extra, allow_empty=True)
    parts = [p for p in (first, second) if p.strip()]
    if not parts:
        raise Reject("empty_field", f'fields "{instruction}" and "{extra}" are both empty')
    return "\n".join(parts)


@register("alpaca")
class Alpaca(BaseIngestor):
    description = "Alpaca: instruction, input, output (+ system, history); JSON array or JSONL"
    required = frozenset({"instruction", "output"})
    excluded = frozenset({"chosen", "rejected"})

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        if "instruction" not in record:
            raise Reject("missing_field", 'field "instruction" is missing')
        user = instruction_prompt(record, "instruction", "input")
        output = text_field(record, "output")
        messages: list[dict[str, Any]] = []
        system = text_field(record, "system", allow_empty=True)
        if system.strip():
            messages.append({"role": "system", "content": system})
        history = record.get("history") or []
        if not isinstance(history, list):
            raise Reject(
                "wrong_type", f'field "history" is a JSON {json_type(history)}, expected an array'
            )
        for i, pair in enumerate(history):
            if (
                not isinstance(pair, list | tuple)
                or len(pair) != 2
                or not all(isinstance(t, str) for t in pair)
            ):
                raise Reject(
                    "wrong_type", f"history[{i}] is not a [instruction, response] pair of strings"
                )
            messages.append({"role": "user", "content": pair[0]})
            messages.append({"role": "assistant", "content": pair[1]})
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": output})
        used = {"instruction", "input", "output", "system", "history"}
        return finish({"messages": messages}, extras(record, used), options)
