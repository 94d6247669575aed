"""OpenAI chat JSONL (also TRL's conversational language-modelling type): ``messages``,
with ``tools``, ``parallel_tool_calls``, ``functions`` and per-message ``tool_calls`` /
``weight`` kept exactly as given. Other top-level keys move under ``metadata``.

Content is not judged here (empty turns, role order): that is ``curate validate``'s job,
so a chat file round-trips unchanged. Media (docs/ingest.md, "Media"): OpenAI vision parts
(``image_url`` with ``detail``) are already canonical and kept; LLaMA-Factory's multimodal
shape (string contents with ``<image>`` placeholders + an ``images`` / ``videos`` /
``audios`` list, as in its ``mllm_demo.json``) and TRL's vision shape (``images`` + parts
``{"type": "image"}``) become canonical parts (:mod:`curate.ingest.media`).

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> rec = {"messages": [{"role": "user", "content": "hi"}], "lang": "en"}
    >>> OpenAIChat().convert(rec, IngestOptions())
    {'messages': [{'role': 'user', 'content': 'hi'}], 'metadata': {'lang': 'en'}}
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
)
from curate.ingest.llamafactory import is_typed_parts
from curate.ingest.media import attach, column_items, media_keys, needs_attach
from curate.ingest.reasoning import split_assistant_messages

#: top-level keys of OpenAI's chat fine-tuning format, kept as they are
TOP_LEVEL = ("messages", "tools", "parallel_tool_calls", "functions")


@register("openai")
class OpenAIChat(BaseIngestor):
    description = "OpenAI chat JSONL: messages (+ tools, tool_calls, weight); TRL conversational"
    required = frozenset({"messages"})
    excluded = frozenset({"chosen", "rejected", "completion"})

    def fits(self, record: dict[str, Any]) -> bool:
        """Detection: not the LLaMA-Factory v1 shape (typed parts, loss_weight)."""
        return not is_typed_parts(record)

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        messages = record.get("messages")
        if messages is None:
            state = "null" if "messages" in record else "missing"
            raise Reject("missing_field", f'field "messages" is {state}')
        if not isinstance(messages, list):
            raise Reject(
                "wrong_type", f'field "messages" is a JSON {json_type(messages)}, expected an array'
            )
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise Reject(
                    "wrong_type", f"messages[{i}] is a JSON {json_type(m)}, expected an object"
                )
        body: dict[str, Any] = {"messages": split_assistant_messages([dict(m) for m in messages])}
        for key in TOP_LEVEL[1:]:
            if key in record:
                body[key] = record[key]
        used = set(TOP_LEVEL)
        if needs_attach(record, body["messages"]):
            attach(body, column_items(record))
            used |= set(media_keys(record))
        return finish(body, extras(record, used), options)
