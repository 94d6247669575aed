"""Prompt/completion pairs: OpenAI's legacy fine-tuning JSONL and TRL's prompt-completion
type, standard (strings) or conversational (lists of messages).

A string prompt becomes one user message and a string completion one assistant message;
message lists are kept. Assistant turns inside a conversational *prompt* get ``weight: 0``
(unless they set one), because TRL trains on the completion only. Text is kept verbatim
(legacy separators like ``\\n\\n###\\n\\n`` and the leading space of completions too).

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> PromptCompletion().convert({"prompt": "2+2?", "completion": " 4"}, IngestOptions())
    {'messages': [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': ' 4'}]}
"""

from __future__ import annotations

from typing import Any

from curate.ingest.base import (
    BaseIngestor,
    IngestOptions,
    Reject,
    extras,
    finish,
    register,
    to_messages,
)


@register("prompt_completion")
class PromptCompletion(BaseIngestor):
    description = "prompt/completion: OpenAI legacy JSONL, TRL prompt-completion (str or msgs)"
    required = frozenset({"prompt", "completion"})
    excluded = frozenset({"chosen", "rejected", "label", "messages"})

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        for key in ("prompt", "completion"):
            if record.get(key) is None:
                raise Reject("missing_field", f'field "{key}" is missing or null')
        prompt = to_messages(record["prompt"], "prompt", "user")
        for m in prompt:
            if m.get("role") == "assistant" and "weight" not in m:
                m["weight"] = 0
        completion = to_messages(record["completion"], "completion", "assistant")
        body: dict[str, Any] = {"messages": prompt + completion}
        used = {"prompt", "completion"}
        for key in ("tools", "parallel_tool_calls"):
            if key in record:
                body[key] = record[key]
                used.add(key)
        return finish(body, extras(record, used), options)
