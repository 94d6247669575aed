"""LLaMA-Factory v1 ("Messages format"): ``messages`` whose ``content`` is a list of typed
parts ``{"type": "text" | "reasoning" | "tool_call" | "tool_calls" | "tools", "value": ...}``,
a ``loss_weight`` per message, and ``tools`` as a JSON string; roles system, user,
assistant and tool. (LLaMA-Factory ``src/llamafactory/v1/extras/types.py`` and its data
guide; the Qwen3 renderer, ``v1/plugins/model_plugins/templates/qwen3.py``, defines what
the parts mean.)

Each message becomes one OpenAI-shaped message, as LLaMA-Factory's own Qwen3 renderer reads
it: ``text`` parts joined -> ``content``; ``reasoning`` parts joined -> ``reasoning_content``;
``tool_call`` / ``tool_calls`` parts (``{"name", "arguments"}`` JSON) -> OpenAI
``tool_calls`` with ids ``call_1``, ``call_2``... and each ``tool`` message answers the
oldest unanswered call (``tool_call_id``); ``loss_weight`` 0 or 1 on an assistant message
-> ``weight`` 0 or 1 (and 0 on other roles, which are never trained on, is dropped);
``tools`` (top level, or a ``tools`` part) -> OpenAI ``tools``. Other top-level keys
(``extra_info``, ``_dataset_name``) go under ``metadata``.

Media parts (``image_url`` / ``video_url`` / ``audio_url``, or ``image`` / ``video`` /
``audio``, whose ``value`` is a path or URL) become canonical media parts
(:mod:`curate.media`) in place: the message's ``content`` is then a list of ``text`` and
media parts in their order (adjacent text parts joined).

Preference data (``chosen_messages`` / ``rejected_messages``, v1's ``DPOSample``, each a
whole conversation) is the ``llamafactory_preference`` format: both are converted as above,
their shared leading messages are the prompt (``input``) and what follows is the reply,
which must be one assistant message in each (OpenAI's DPO shape).

What cannot be mapped is rejected with a reason: an unknown part type, reasoning or tool
calls on a non-assistant message (``unsupported_content``), a media value that is not a
path or URL (``bad_media``), another ``loss_weight`` (``bad_loss_weight``), a call that is
not JSON with a name (``bad_tool_call``), an empty turn (``empty_field``), no assistant
message (``missing_field``).

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> rec = {"messages": [
    ...     {"role": "user", "content": [{"type": "text", "value": "2+2?"}], "loss_weight": 0.0},
    ...     {"role": "assistant", "content": [{"type": "reasoning", "value": "Add them."},
    ...                                       {"type": "text", "value": "4"}], "loss_weight": 1.0}]}
    >>> LlamaFactory().convert(rec, IngestOptions())["messages"][1]
    {'role': 'assistant', 'content': '4', 'reasoning_content': 'Add them.', 'weight': 1}
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
from curate.ingest.media import _item_url
from curate.ingest.reasoning import REASONING_KEY, split_reasoning
from curate.ingest.sharegpt import _tool_calls, convert_tools
from curate.media import media_part

ROLES = ("system", "user", "assistant", "tool")
#: LLaMA-Factory v1 media part types -> media kind
MEDIA = {
    "image_url": "image",
    "audio_url": "audio",
    "video_url": "video",
    "image": "image",
    "audio": "audio",
    "video": "video",
}
_EMPTY_TOOLS = (None, "", "[]", [])


def is_typed_parts(record: Any) -> bool:
    """True when ``record`` looks like LLaMA-Factory v1: some message has a ``loss_weight``
    or a content list of ``{"type", "value"}`` parts (OpenAI's parts use ``text`` /
    ``image_url`` keys, not ``value``).

    Example:
        >>> typed = [{"type": "text", "value": "hi"}]
        >>> is_typed_parts({"messages": [{"role": "user", "content": typed}]})
        True
        >>> openai_parts = [{"type": "text", "text": "hi"}]
        >>> is_typed_parts({"messages": [{"role": "user", "content": openai_parts}]})
        False
    """
    if not isinstance(record, dict):
        return False
    messages = record.get("messages")
    if not isinstance(messages, list):
        return False
    for m in messages:
        if not isinstance(m, dict):
            continue
        if "loss_weight" in m:
            return True
        content = m.get("content")
        if (
            isinstance(content, list)
            and content
            and all(isinstance(p, dict) and "type" in p and "value" in p for p in content)
        ):
            return True
    return False


def _parts(content: Any, where: str) -> list[tuple[str, Any]]:
    """``(type, value)`` of each part; a plain string is one text part."""
    if isinstance(content, str):
        return [("text", content)]
    if content is None:
        raise Reject("missing_field", f'{where} has no "content"')
    if not isinstance(content, list):
        raise Reject(
            "wrong_type",
            f"{where} content is a JSON {json_type(content)}, expected a list of parts",
        )
    out = []
    for j, p in enumerate(content):
        if not isinstance(p, dict) or not isinstance(p.get("type"), str) or "value" not in p:
            raise Reject(
                "wrong_type", f'{where} content[{j}] is not a {{"type", "value"}} part object'
            )
        kind, value = p["type"], p["value"]
        if kind in MEDIA:
            out.append(
                ("media", media_part(MEDIA[kind], _item_url(value, f"{where} content[{j}]")))
            )
            continue
        if kind not in ("text", "reasoning", "tool_call", "tool_calls", "tools"):
            raise Reject(
                "unsupported_content",
                f"{where} content[{j}] has the unknown part type {kind!r} (known: text, "
                "reasoning, tool_call, tool_calls, tools, image_url, video_url, audio_url)",
            )
        if kind in ("text", "reasoning") and not isinstance(value, str):
            raise Reject(
                "wrong_type",
                f"{where} content[{j}] {kind} value is a JSON {json_type(value)}, expected "
                "a string",
            )
        out.append((kind, value))
    return out


def _weight(m: dict[str, Any], role: str, where: str) -> int | None:
    """``loss_weight`` as OpenAI's ``weight`` (assistant only), else :class:`Reject`."""
    if "loss_weight" not in m or m["loss_weight"] is None:
        return None
    w = m["loss_weight"]
    if isinstance(w, bool) or not isinstance(w, int | float):
        raise Reject(
            "wrong_type", f"{where} loss_weight is a JSON {json_type(w)}, expected a number"
        )
    if role == "assistant":
        if w not in (0, 1):
            raise Reject(
                "bad_loss_weight",
                f"{where} loss_weight is {w}: the chat record's weight is 0 or 1 (train on the "
                "reply or not); round it, or drop the message",
            )
        return int(w)
    if w != 0:
        raise Reject(
            "bad_loss_weight",
            f"{where} is a {role} message with loss_weight {w}: only assistant messages are "
            "trained on; set it to 0 or make the turn an assistant reply",
        )
    return None


@register("llamafactory")
class LlamaFactory(BaseIngestor):
    description = "LLaMA-Factory v1: typed parts (text, reasoning, tool_call), loss_weight"
    required = frozenset({"messages"})
    excluded = frozenset({"chosen", "rejected", "completion"})
    #: said in the detection reason, after the keys
    shape = " with typed content parts or loss_weight"

    def fits(self, record: dict[str, Any]) -> bool:
        """Detection: only records in the v1 shape (:func:`is_typed_parts`)."""
        return is_typed_parts(record)

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        tools: Any = None
        if record.get("tools") not in _EMPTY_TOOLS:
            tools = convert_tools(record["tools"])
        out, tools = convert_messages(record.get("messages"), "messages", tools)
        if not any(m["role"] == "assistant" for m in out):
            raise Reject("missing_field", "no assistant message: nothing to train on")
        body: dict[str, Any] = {"messages": out}
        if tools:
            body["tools"] = tools
        return finish(body, extras(record, {"messages", "tools"}), options)


def _content(seq: list[tuple[str, Any]]) -> str | list[dict[str, Any]]:
    """Text pieces joined; with media, a list of text and media parts in order."""
    if all(kind == "text" for kind, _ in seq):
        return "".join(v for _, v in seq)
    parts: list[dict[str, Any]] = []
    for kind, v in seq:
        if kind == "media":
            parts.append(v)
        elif parts and parts[-1].get("type") == "text":
            parts[-1]["text"] += v
        elif v:
            parts.append({"type": "text", "text": v})
    return parts


def _has_text(content: str | list[dict[str, Any]]) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    return bool(content)  # a media part is content


def convert_messages(
    messages: Any, key: str, tools: Any = None
) -> tuple[list[dict[str, Any]], Any]:
    """v1 messages (``record[key]``) as OpenAI-shaped messages, and the tools declared
    (``tools`` given at top level, or a ``tools`` part)."""
    if messages is None:
        raise Reject("missing_field", f'field "{key}" is missing or null')
    if not isinstance(messages, list):
        raise Reject(
            "wrong_type", f'field "{key}" is a JSON {json_type(messages)}, expected an array'
        )
    if not messages:
        raise Reject("empty_field", f'field "{key}" is an empty list')
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    counter = [0]
    for i, m in enumerate(messages):
        where = f"{key}[{i}]"
        if not isinstance(m, dict):
            raise Reject("wrong_type", f"{where} is a JSON {json_type(m)}, expected an object")
        role = m.get("role")
        if role not in ROLES:
            raise Reject(
                "unknown_role", f"{where} has role {role!r}; expected one of {', '.join(ROLES)}"
            )
        seq: list[tuple[str, Any]] = []
        reasoning, calls = [], []
        had_tools = False
        for kind, value in _parts(m.get("content"), where):
            if kind in ("text", "media"):
                seq.append((kind, value))
            elif kind == "tools":
                if tools is not None:
                    raise Reject("bad_tools", f"{where}: tools are declared twice")
                tools, had_tools = convert_tools(value), True
            elif role != "assistant":
                raise Reject(
                    "unsupported_content",
                    f"{where} is a {role} message with a {kind} part: only assistant "
                    "messages carry reasoning and tool calls",
                )
            elif kind == "reasoning":
                reasoning.append(value)
            else:
                calls.extend(_tool_calls(value, where, counter))
        weight = _weight(m, role, where)
        content = _content(seq)
        if role != "assistant":
            if not _has_text(content):
                if had_tools and role == "system":
                    continue  # a system turn that only declared the tools (now top level)
                raise Reject("empty_field", f"{where} ({role}) is empty")
            if role == "tool":
                if not pending:
                    raise Reject("bad_tool_call", f"{where} is a tool result that answers no call")
                out.append({"role": "tool", "tool_call_id": pending.pop(0), "content": content})
            else:
                out.append({"role": role, "content": content})
            continue
        msg: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning:
            msg[REASONING_KEY] = "".join(reasoning)
        if calls:
            msg["tool_calls"] = calls
            pending.extend(c["id"] for c in calls)
            if not content:
                msg["content"] = None
        elif not _has_text(content):
            raise Reject(
                "bad_reasoning" if reasoning else "empty_field",
                f"{where} (assistant) has "
                + ("a reasoning trace but no answer" if reasoning else "no text and no tool call"),
            )
        split_reasoning(msg, where)
        if weight is not None:
            msg["weight"] = weight
        out.append(msg)
    return out, tools


@register("llamafactory_preference")
class LlamaFactoryPreference(BaseIngestor):
    description = "LLaMA-Factory v1 preference: chosen_messages / rejected_messages"
    required = frozenset({"chosen_messages", "rejected_messages"})

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        tools: Any = None
        if record.get("tools") not in _EMPTY_TOOLS:
            tools = convert_tools(record["tools"])
        chosen, tools = convert_messages(record.get("chosen_messages"), "chosen_messages", tools)
        rejected, tools2 = convert_messages(record.get("rejected_messages"), "rejected_messages")
        if tools is None:
            tools = tools2
        n = 0
        while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
            n += 1
        while n > 0 and chosen[n - 1]["role"] == "assistant":
            n -= 1  # the prompt ends before the first differing reply
        if n == 0:
            raise Reject(
                "no_prompt",
                "chosen_messages and rejected_messages share no leading messages, so there is "
                "no prompt; both must start with the same conversation",
            )
        body: dict[str, Any] = {"input": {"messages": chosen[:n]}}
        if tools:
            body["input"]["tools"] = tools
        for key, src, msgs in (
            ("preferred_output", "chosen_messages", chosen[n:]),
            ("non_preferred_output", "rejected_messages", rejected[n:]),
        ):
            if len(msgs) == 1 and isinstance(msgs[0].get("content"), list):
                raise Reject(
                    "unsupported_content",
                    f"the {src} reply has media parts: a preference reply is text (OpenAI's "
                    "DPO shape); put the media in the prompt",
                )
            if len(msgs) != 1 or msgs[0]["role"] != "assistant":
                roles = ", ".join(m["role"] for m in msgs) or "nothing"
                raise Reject(
                    "unsupported_content",
                    f"{src} continues the shared prompt with {roles}: the preference record "
                    "(OpenAI's DPO shape) holds one assistant reply per side",
                )
            body[key] = msgs
        return finish(
            body, extras(record, {"chosen_messages", "rejected_messages", "tools"}), options
        )
