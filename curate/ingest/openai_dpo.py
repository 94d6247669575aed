"""OpenAI preference (DPO) fine-tuning JSONL: ``input`` (``messages``, ``tools``...),
``preferred_output`` and ``non_preferred_output`` (lists of assistant messages), kept as
given; other top-level keys go under ``metadata``.

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> rec = {"input": {"messages": [{"role": "user", "content": "hi"}]},
    ...        "preferred_output": [{"role": "assistant", "content": "hello"}],
    ...        "non_preferred_output": [{"role": "assistant", "content": "go away"}]}
    >>> OpenAIDPO().convert(rec, IngestOptions()) == rec
    True
"""

from __future__ import annotations

from typing import Any

from curate.ingest.base import (
    BaseIngestor,
    IngestOptions,
    extras,
    finish,
    register,
    require,
    to_messages,
)

KEYS = ("input", "preferred_output", "non_preferred_output")


@register("openai_dpo")
class OpenAIDPO(BaseIngestor):
    description = "OpenAI preference (DPO) JSONL: input, preferred_output, non_preferred_output"
    required = frozenset(KEYS)

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        inp = dict(require(record, "input", dict))
        inp["messages"] = to_messages(require(inp, "messages", list), "input.messages", "user")
        body: dict[str, Any] = {"input": inp}
        for key in KEYS[1:]:
            body[key] = to_messages(require(record, key, (list, dict)), key, "assistant")
        return finish(body, extras(record, set(KEYS)), options)
