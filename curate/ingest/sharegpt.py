"""ShareGPT: ``conversations`` of ``{"from", "value"}`` turns (human, gpt, system,
function_call, observation), or the ``{"role", "content"}`` variant; optional top-level
``system`` and ``tools`` (a list, or a JSON string as in LLaMA-Factory's glaive sample).
Also LLaMA-Factory's preference variant (``conversations`` + ``chosen`` / ``rejected``
turns), written in OpenAI's DPO shape.

``function_call`` turns (``{"name", "arguments"}`` JSON, or a list of them) become assistant
``tool_calls`` with deterministic ids ``call_1``, ``call_2``... per example; each
``observation`` answers the oldest unanswered call as a ``tool`` message. ``tools`` become
OpenAI's ``[{"type": "function", "function": {...}}]``. Other keys (``id``...) go under
``metadata``. ``images`` / ``videos`` / ``audios`` lists with ``<image>`` / ``<video>`` /
``<audio>`` placeholders in the turns (LLaMA-Factory's multimodal ShareGPT) become
canonical media parts (:mod:`curate.ingest.media`, docs/ingest.md "Media").

Example:
    >>> from curate.ingest.base import IngestOptions
    >>> rec = {"id": "x1", "conversations": [{"from": "human", "value": "hi"},
    ...                                      {"from": "gpt", "value": "hello"}]}
    >>> out = ShareGPT().convert(rec, IngestOptions())
    >>> [m["role"] for m in out["messages"]], out["metadata"]
    (['user', 'assistant'], {'id': 'x1'})
"""

from __future__ import annotations

import json
from typing import Any

from curate.ingest.base import (
    BaseIngestor,
    IngestOptions,
    Reject,
    extras,
    finish,
    json_type,
    parse_json_text,
    register,
)
from curate.ingest.media import attach, column_items, media_keys
from curate.ingest.reasoning import ALIASES, REASONING_KEY, split_reasoning

#: ShareGPT speaker names (lower-cased) -> OpenAI roles; ``function_call`` is special
ROLE_MAP = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "system": "system",
    "observation": "tool",
    "tool": "tool",
    "function_response": "tool",
    "function_call": "function_call",
}


def _turn(t: Any, where: str) -> tuple[str, Any]:
    if not isinstance(t, dict):
        raise Reject("wrong_type", f"{where} is a JSON {json_type(t)}, expected an object")
    if "from" in t:
        speaker, value = t.get("from"), t.get("value")
        value_key = "value"
    elif "role" in t:
        speaker, value = t.get("role"), t.get("content")
        value_key = "content"
    else:
        raise Reject("missing_field", f'{where} has neither "from" nor "role"')
    role = ROLE_MAP.get(speaker.lower()) if isinstance(speaker, str) else None
    if role is None:
        raise Reject(
            "unknown_role",
            f"{where} is from {speaker!r}; expected one of {', '.join(sorted(ROLE_MAP))}",
        )
    if role == "function_call" or (role == "assistant" and "tool_calls" in t):
        return role, t.get("tool_calls", value) if role == "assistant" else value
    if value is None:
        raise Reject("missing_field", f'{where} has no "{value_key}"')
    if not isinstance(value, str):
        raise Reject(
            "wrong_type", f"{where} {value_key} is a JSON {json_type(value)}, expected a string"
        )
    if not value.strip() and role in ("user", "assistant"):
        raise Reject("empty_field", f"{where} ({speaker}) is empty")
    return role, value


def _tool_calls(value: Any, where: str, counter: list[int]) -> list[dict[str, Any]]:
    calls = parse_json_text(value, f"{where} function_call", "bad_tool_call")
    if isinstance(calls, dict):
        calls = [calls]
    if not isinstance(calls, list) or not calls:
        raise Reject(
            "bad_tool_call", f"{where} function_call is not a call object or a list of them"
        )
    out = []
    for c in calls:
        if (
            isinstance(c, dict)
            and c.get("type") == "function"
            and isinstance(c.get("function"), dict)
        ):
            c = c["function"]  # already OpenAI-shaped
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
            raise Reject("bad_tool_call", f'{where} function_call has no "name"')
        args = c.get("arguments", c.get("parameters", {}))
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        counter[0] += 1
        out.append(
            {
                "id": f"call_{counter[0]}",
                "type": "function",
                "function": {"name": c["name"], "arguments": args},
            }
        )
    return out


def convert_turns(turns: Any, key: str = "conversations") -> list[dict[str, Any]]:
    """ShareGPT turns as OpenAI messages (see the module docstring)."""
    if not isinstance(turns, list):
        raise Reject("wrong_type", f'field "{key}" is a JSON {json_type(turns)}, expected an array')
    if not turns:
        raise Reject("empty_field", f'field "{key}" is an empty list')
    messages: list[dict[str, Any]] = []
    pending: list[str] = []
    counter = [0]
    for i, t in enumerate(turns):
        where = f"{key}[{i}]"
        role, value = _turn(t, where)
        if role == "function_call":
            trace = None
            if value.lstrip().startswith("<think>"):  # a trace before the call (LLaMA-Factory)
                msg = split_reasoning({"role": "assistant", "content": value}, where)
                value, trace = msg["content"], msg.get(REASONING_KEY)
            calls = _tool_calls(value, where, counter)
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            if trace:
                messages[-1][REASONING_KEY] = trace
            pending.extend(c["id"] for c in calls)
        elif role == "assistant" and isinstance(
            value, list
        ):  # role/content variant with tool_calls
            msg = {k: v for k, v in t.items() if k != "role"} | {"role": "assistant"}
            messages.append(split_reasoning(msg, where))
        elif role == "tool":
            if "tool_call_id" in t:
                messages.append(
                    {"role": "tool", "tool_call_id": t["tool_call_id"], "content": value}
                )
                if t["tool_call_id"] in pending:
                    pending.remove(t["tool_call_id"])
                continue
            if not pending:
                raise Reject(
                    "bad_tool_call", f"{where} is an observation that answers no function_call"
                )
            messages.append({"role": "tool", "tool_call_id": pending.pop(0), "content": value})
        else:
            msg = {"role": role, "content": value}
            if role == "assistant":  # a trace: reasoning_content / thinking, or inline <think>
                msg.update({k: t[k] for k in (REASONING_KEY, *ALIASES) if k in t})
                split_reasoning(msg, where)
            messages.append(msg)
    return messages


def convert_tools(value: Any) -> list[dict[str, Any]]:
    """LLaMA-Factory ``tools`` (a list of function definitions, maybe a JSON string) in
    OpenAI's shape."""
    tools = parse_json_text(value, '"tools"', "bad_tools")
    if isinstance(tools, dict):
        tools = [tools]
    if not isinstance(tools, list):
        raise Reject(
            "bad_tools", f'"tools" is a JSON {json_type(tools)}, expected a list of functions'
        )
    out = []
    for i, t in enumerate(tools):
        if (
            isinstance(t, dict)
            and t.get("type") == "function"
            and isinstance(t.get("function"), dict)
        ):
            out.append(t)
        elif isinstance(t, dict) and isinstance(t.get("name"), str):
            out.append({"type": "function", "function": t})
        else:
            raise Reject("bad_tools", f"tools[{i}] is not a function definition with a name")
    return out


def _head(record: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], set[str]]:
    """Messages from ``conversations`` (+ ``system``), OpenAI ``tools``, and the keys used."""
    messages = convert_turns(record.get("conversations"))
    used = {"conversations", "tools"}
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise Reject(
            "wrong_type", f'field "system" is a JSON {json_type(system)}, expected a string'
        )
    has_turn = bool(messages) and messages[0]["role"] == "system"
    if not has_turn or not system:
        used.add("system")  # a system field beside a system turn stays in metadata
    if system and system.strip() and not has_turn:
        messages.insert(0, {"role": "system", "content": system})
    top: dict[str, Any] = {}
    tools = record.get("tools")
    if tools not in (None, "", "[]", []):
        top["tools"] = convert_tools(tools)
    return messages, top, used


@register("sharegpt")
class ShareGPT(BaseIngestor):
    description = "ShareGPT: conversations of from/value (or role/content) turns, + tools"
    required = frozenset({"conversations"})
    excluded = frozenset({"chosen", "rejected"})

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        if "conversations" not in record:
            raise Reject("missing_field", 'field "conversations" is missing')
        messages, top, used = _head(record)
        body = {"messages": messages, **top}
        _media(body, record, used)
        return finish(body, extras(record, used), options)


def _media(body: dict[str, Any], record: dict[str, Any], used: set[str]) -> None:
    """Placeholders + media columns -> canonical parts (:func:`curate.ingest.media.attach`)."""
    keys = media_keys(record)
    if keys:
        attach(body, column_items(record))
        used |= set(keys)


def _reply(value: Any, key: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = [value]
    msgs = convert_turns(value, key)
    if any(m["role"] != "assistant" for m in msgs):
        raise Reject("unknown_role", f'field "{key}" must hold assistant turns only')
    return msgs


@register("sharegpt_preference")
class ShareGPTPreference(BaseIngestor):
    description = "ShareGPT preference (LLaMA-Factory): conversations + chosen/rejected turns"
    required = frozenset({"conversations", "chosen", "rejected"})

    def convert(self, record: dict[str, Any], options: IngestOptions) -> dict[str, Any]:
        messages, top, used = _head(record)
        for key in ("chosen", "rejected"):
            if record.get(key) is None:
                raise Reject("missing_field", f'field "{key}" is missing or null')
        body: dict[str, Any] = {
            "input": {"messages": messages, **top},
            "preferred_output": _reply(record["chosen"], "chosen"),
            "non_preferred_output": _reply(record["rejected"], "rejected"),
        }
        _media(body, record, used)
        return finish(body, extras(record, used | {"chosen", "rejected"}), options)
