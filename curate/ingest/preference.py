"""TRL preference data: ``prompt`` / ``chosen`` / ``rejected``, standard (strings) or
conversational (message lists), and the implicit-prompt type (only ``chosen`` / ``rejected``,
conversations that share their first turns). Written in OpenAI's DPO shape:
``{"input": {"messages"}, "preferred_output", "non_preferred_output"}``.

Common variants of the prompt column are understood: ``question`` or ``instruction`` (+
``input``) instead of ``prompt``, and a ``system`` column. An implicit prompt is the longest
common run of leading messages that ends before an assistant turn; plain-string pairs
without a prompt cannot be split and are rejected (``no_prompt``).

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> rec = {"prompt": "2+2?", "chosen": "4", "rejected": "5"}
    >>> out = Preference().convert(rec, IngestOptions())
    >>> out["input"], out["preferred_output"]
    ({'messages': [{'role': 'user', 'content': '2+2?'}]}, [{'role': 'assistant', 'content': '4'}])
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
    to_messages,
)


def _split_implicit(
    chosen: list[dict[str, Any]], rejected: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    while n > 0 and chosen[n - 1].get("role") == "assistant":
        n -= 1  # the prompt ends with the user's turn, the replies start with the assistant's
    if n == 0:
        raise Reject(
            "no_prompt",
            "chosen and rejected share no leading turns, so there is no prompt; "
            'add a "prompt" field',
        )
    return chosen[:n], chosen[n:], rejected[n:]


@register("preference")
class Preference(BaseIngestor):
    description = "TRL preference: prompt/chosen/rejected (str or msgs), implicit prompt too"
    required = frozenset({"chosen", "rejected"})
    excluded = frozenset({"conversations", "preferred_output"})

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        for key in ("chosen", "rejected"):
            if record.get(key) is None:
                raise Reject("missing_field", f'field "{key}" is missing or null')
        used = {"chosen", "rejected", "system"}
        prompt_key = next((k for k in ("prompt", "question") if k in record), None)
        if prompt_key is not None:
            if record[prompt_key] is None:
                raise Reject("missing_field", f'field "{prompt_key}" is null')
            prompt = to_messages(record[prompt_key], prompt_key, "user")
            used.add(prompt_key)
            chosen = to_messages(record["chosen"], "chosen", "assistant")
            rejected = to_messages(record["rejected"], "rejected", "assistant")
        elif "instruction" in record:
            prompt = [
                {"role": "user", "content": instruction_prompt(record, "instruction", "input")}
            ]
            used |= {"instruction", "input"}
            chosen = to_messages(record["chosen"], "chosen", "assistant")
            rejected = to_messages(record["rejected"], "rejected", "assistant")
        else:
            if isinstance(record["chosen"], str) or isinstance(record["rejected"], str):
                raise Reject(
                    "no_prompt",
                    'chosen/rejected are plain strings and there is no "prompt" field to split '
                    "them; add the prompt",
                )
            full_c = to_messages(record["chosen"], "chosen", "assistant")
            full_r = to_messages(record["rejected"], "rejected", "assistant")
            prompt, chosen, rejected = _split_implicit(full_c, full_r)
        system = text_field(record, "system", allow_empty=True)
        if system.strip() and not any(m.get("role") == "system" for m in prompt):
            prompt.insert(0, {"role": "system", "content": system})
        if not chosen or not rejected:
            raise Reject("empty_field", "chosen or rejected has no reply after the prompt")
        inp: dict[str, Any] = {"messages": prompt}
        if "tools" in record:
            inp["tools"] = record["tools"]
            used.add("tools")
        body = {"input": inp, "preferred_output": chosen, "non_preferred_output": rejected}
        return finish(body, extras(record, used), options)
