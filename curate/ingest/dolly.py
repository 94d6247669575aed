"""Databricks Dolly: ``instruction``, ``context``, ``response``, ``category``.

The user turn is the instruction and, when present, a newline and the context (as for
Alpaca's input); ``category`` and any other key go under ``metadata``.

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> rec = {"instruction": "Who?", "context": "", "response": "Me.", "category": "open_qa"}
    >>> Dolly().convert(rec, IngestOptions())["metadata"]
    {'category': 'open_qa'}
"""

from __future__ import annotations

from typing import Any

from curate.ingest.alpaca import instruction_prompt
from curate.ingest.base import (
    BaseIngestor,
    IngestOptions,
    Reject,
    extras,
    finish,
    register,
    text_field,
)


@register("dolly")
class Dolly(BaseIngestor):
    description = "Dolly: instruction, context, response, category"
    required = frozenset({"instruction", "response"})
    excluded = frozenset({"chosen", "rejected"})

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        if "instruction" not in record:
            raise Reject("missing_field", 'field "instruction" is missing')
        user = instruction_prompt(record, "instruction", "context")
        reply = text_field(record, "response")
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
        used = {"instruction", "context", "response"}
        return finish({"messages": messages}, extras(record, used), options)
