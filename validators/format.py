"""Format checks for OpenAI chat fine-tuning data.

Part one is the OpenAI cookbook's data-prep checks, with its codes and counted the way it
counts them (``examples/Chat_finetuning_data_prep.ipynb``):

- a record that is not an object: ``data_type`` and nothing else;
- a missing or empty ``messages``: ``missing_messages_list`` and nothing else;
- per message: no ``role`` or no ``content`` key: ``message_missing_key``; any key outside
  role, content, name, function_call, weight: ``message_unrecognized_key`` (once per
  message); a role outside system, user, assistant, function: ``unrecognized_role``;
  content empty without a function_call, or not a string: ``missing_content``;
- per example with no assistant message: ``example_missing_assistant_message``.

Part two is OpenAI's current format, which the cookbook predates: the ``tool`` role with
``tool_call_id``, assistant ``tool_calls`` (content may then be null), top-level ``tools``
and ``parallel_tool_calls``, ``weight`` (0 or 1, assistant only), role order,
whitespace-only content, special-token strings, and top-level keys the target rejects.
For files within the cookbook's scope (no tools) the cookbook counts are unchanged.

Example:
    >>> from curate.records import Example, Location
    >>> ex = Example({"messages": [{"role": "user", "content": "hi"}]}, Location("f.jsonl", 1))
    >>> [f.code for f in OpenAIFormat().check(ex)]
    ['last_not_assistant', 'example_missing_assistant_message']
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from curate.records import Example, Finding, Location, Severity, json_type

E, W = Severity.ERROR, Severity.WARNING

COOKBOOK_KEYS = frozenset({"role", "content", "name", "function_call", "weight"})
COOKBOOK_ROLES = frozenset({"system", "user", "assistant", "function"})
#: keys and roles OpenAI's current chat format adds to the cookbook's lists
TOOL_KEYS = frozenset({"tool_calls", "tool_call_id"})
ROLES = COOKBOOK_ROLES | {"tool"}
MESSAGE_KEYS = COOKBOOK_KEYS | TOOL_KEYS
#: an assistant message's thinking trace in curate's record (docs/ingest.md); OpenAI's
#: fine-tuning message schema has no such key, so ``--target openai`` reports it
REASONING_KEYS = frozenset({"reasoning_content"})

#: top-level keys OpenAI's chat fine-tuning endpoint accepts
OPENAI_TOP_LEVEL = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
#: provenance keys of curate's canonical record (not sent to OpenAI by export)
CANONICAL_EXTRAS = frozenset({"id", "source", "metadata"})
TARGETS = ("curate", "openai")
_ALLOWED_TOP_LEVEL = {"curate": OPENAI_TOP_LEVEL | CANONICAL_EXTRAS, "openai": OPENAI_TOP_LEVEL}
#: top-level keys about which _top_level has nothing to say, per target (``tools`` and
#: ``parallel_tool_calls`` are checked, unknown keys reported)
_QUIET_TOP_LEVEL = {
    "curate": frozenset({"messages", "functions"}) | CANONICAL_EXTRAS,
    "openai": frozenset({"messages", "functions"}),
}

SPECIAL_TOKEN_RE = re.compile(r"<\|[A-Za-z0-9_]+\|>")


def _f(code: str, sev: Severity, msg: str, loc: Location, hint: str) -> Finding:
    return Finding(code, sev, msg, loc, hint=hint)


def _not_an_object(m: Any, loc: Location) -> Finding:
    """``message_data_type``: a message that is not a JSON object."""
    return _f(
        "message_data_type",
        E,
        f"message is a JSON {json_type(m)}, not an object",
        loc,
        'each message must be an object like {"role": "user", "content": "..."}',
    )


_PLAIN_ROLES = ("user", "assistant")


def _plain_conversation(messages: list[Any]) -> bool:
    """True when every message is ``{"role", "content"}`` with a non-blank string content
    free of special-token strings, roles are an optional leading system message then
    alternating user/assistant turns, and the last is the assistant's: such a
    conversation gets no finding from the per-message checks (a property test holds
    them to that), so they are skipped.

    Example:
        >>> _plain_conversation([{"role": "user", "content": "hi"},
        ...                      {"role": "assistant", "content": "hello"}])
        True
        >>> _plain_conversation([{"role": "user", "content": "hi"}])
        False
    """
    prev = None
    for i, m in enumerate(messages):
        if type(m) is not dict or len(m) != 2 or "role" not in m or "content" not in m:
            return False
        role, content = m["role"], m["content"]
        if type(content) is not str or not content or content.isspace() or "<|" in content:
            return False
        if role == "system":
            if i:
                return False
        elif role not in _PLAIN_ROLES or role == prev:
            return False
        prev = role
    return prev == "assistant"


@dataclass(frozen=True, slots=True)
class OpenAIFormat:
    """Cookbook format checks plus OpenAI's current chat format.

    Args:
        target: ``curate`` (default) accepts curate's provenance keys ``id``, ``source``
            and ``metadata`` at the top level and warns about other unknown keys;
            ``openai`` makes every key OpenAI rejects an error (what an upload would do).
    """

    target: str = "curate"
    name: str = "format"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; choose one of {', '.join(TARGETS)}")

    def check(self, ex: Example) -> Iterator[Finding]:
        data, loc = ex.data, ex.source
        if type(data) is dict:
            messages = data.get("messages")
            if (
                type(messages) is list
                and messages
                and data.keys() <= _QUIET_TOP_LEVEL[self.target]
                and _plain_conversation(messages)
            ):
                return  # the common case: provably finding-free (see _plain_conversation)
        if not isinstance(data, dict):
            yield _f(
                "data_type",
                E,
                f"example is a JSON {json_type(data)}, not an object",
                loc,
                'each line must be an object like {"messages": [...]}',
            )
            return
        if is_preference(data):
            yield from self._preference(data, loc)
            return
        messages = data.get("messages", None)
        if not messages:
            hint = 'add a non-empty "messages" list of {"role", "content"} objects'
            if "preferred_output" in data or "chosen" in data:
                hint += " (this looks like preference data: ingest it with curate ingest)"
            elif "prompt" in data or "instruction" in data or "conversations" in data:
                hint += " (this looks like another format: convert it with curate ingest)"
            yield _f("missing_messages_list", E, '"messages" is missing or empty', loc, hint)
            return
        if not isinstance(messages, list):
            yield _f(
                "missing_messages_list",
                E,
                f'"messages" is a JSON {json_type(messages)}, not a list',
                loc,
                'make "messages" a list of {"role", "content"} objects',
            )
            return
        yield from self._top_level(data, loc)
        if not _plain_conversation(messages):
            # the common case skips this: it is proved finding-free without it
            yield from self._messages(data, messages, loc)

    def _messages(
        self, data: dict[str, Any], messages: list[Any], loc: Location
    ) -> Iterator[Finding]:
        has_assistant = False
        call_ids: set[str] = set()
        answered: set[str] = set()
        tool_names = _tool_names(data.get("tools"))
        #: calls not answered yet -> index of the assistant message that made them
        pending: dict[str, int] = {}
        prev_role: str | None = None
        for i, m in enumerate(messages):
            mloc = loc.with_message(i)
            if not isinstance(m, dict):
                yield _not_an_object(m, mloc)
                continue
            role = m.get("role", None)
            if role == "assistant":
                has_assistant = True
            if pending and role != "tool":
                yield from self._unanswered(pending, loc, i)
                pending.clear()
            yield from self._cookbook_message(m, role, mloc)
            if "tool_calls" in m or role == "tool":
                made, done = len(call_ids), len(answered)
                before = set(call_ids) if "tool_calls" in m else call_ids
                yield from self._tools_in_message(m, role, mloc, call_ids, answered, tool_names)
                if len(call_ids) != made:
                    pending.update(dict.fromkeys(call_ids - before, i))
                if len(answered) != done:
                    pending.pop(m.get("tool_call_id"), None)
            yield from self._extras(m, role, mloc, i, prev_role, messages)
            prev_role = role if isinstance(role, str) else None
        if not has_assistant:
            yield _f(
                "example_missing_assistant_message",
                E,
                "no assistant message: nothing to train on",
                loc,
                'add the reply you want the model to learn as {"role": "assistant", ...}',
            )
        # calls still pending at the end are the example's last turn: the reply the model
        # learns is the call itself, answered at inference time (valid for every target)

    def _unanswered(self, pending: dict[str, int], loc: Location, at: int) -> Iterator[Finding]:
        """The calls no tool message answered before message ``at`` goes on: OpenAI's API
        refuses such a conversation, so an error for ``--target openai``."""
        for cid, made in sorted(pending.items(), key=lambda kv: (kv[1], kv[0])):
            yield _f(
                "tool_call_unanswered",
                E if self.target == "openai" else W,
                f"tool call {cid!r} has no tool message answering it before message {at} "
                "goes on"
                + (" (OpenAI refuses such a conversation)" if self.target == "openai" else ""),
                loc.with_message(made),
                f'add {{"role": "tool", "tool_call_id": "{cid}", "content": ...}} right after '
                "the call, or drop the call",
            )

    # -- OpenAI preference (DPO) records --------------------------------------------
    def _preference(self, data: dict[str, Any], loc: Location) -> Iterator[Finding]:
        """``{"input": {"messages": [...], "tools"?}, "preferred_output": [assistant],
        "non_preferred_output": [assistant]}``: the input's messages get the same message
        checks as a chat example; each output must be exactly one assistant message."""
        allowed = PREFERENCE_TOP_LEVEL | (set() if self.target == "openai" else CANONICAL_EXTRAS)
        unknown = sorted(k for k in data if k not in allowed)
        if unknown:
            yield _f(
                "unrecognized_top_level_key",
                E if self.target == "openai" else W,
                f"top-level key(s) {', '.join(repr(k) for k in unknown)} not accepted in "
                "preference data",
                loc,
                "remove them, or export with curate split --format openai",
            )
        inp = data.get("input")
        msgs = inp.get("messages") if isinstance(inp, dict) else None
        if not isinstance(msgs, list) or not msgs:
            yield _f(
                "invalid_preference_input",
                E,
                '"input" must be an object with a non-empty "messages" list',
                loc,
                'use {"input": {"messages": [{"role": "user", "content": "..."}]}, ...}',
            )
        else:
            for i, m in enumerate(msgs):
                mloc = loc.with_message(i)
                if not isinstance(m, dict):
                    yield _not_an_object(m, mloc)
                    continue
                yield from self._cookbook_message(m, m.get("role"), mloc)
        for key in ("preferred_output", "non_preferred_output"):
            out = data.get(key)
            ok = (
                isinstance(out, list)
                and len(out) == 1
                and isinstance(out[0], dict)
                and out[0].get("role") == "assistant"
                and (isinstance(out[0].get("content"), str) or "tool_calls" in out[0])
            )
            if not ok:
                yield _f(
                    "invalid_preference_output",
                    E,
                    f'"{key}" must be a list of exactly one assistant message',
                    loc,
                    f'use "{key}": [{{"role": "assistant", "content": "..."}}]',
                )
            elif isinstance(out[0].get("content"), str) and not out[0]["content"].strip():
                yield _f(
                    "missing_content",
                    E,
                    f'"{key}" has an empty reply',
                    loc,
                    "give the reply a non-empty string content",
                )

    # -- the cookbook's per-message checks, in its order ------------------------------
    def _cookbook_message(self, m: dict[str, Any], role: Any, loc: Location) -> Iterator[Finding]:
        has_tool_calls = "tool_calls" in m
        if "role" not in m or ("content" not in m and not has_tool_calls):
            missing = [k for k in ("role", "content") if k not in m]
            yield _f(
                "message_missing_key",
                E,
                f"message has no {' or '.join(repr(k) for k in missing)} key",
                loc,
                'every message needs "role" and "content"',
            )
        known = MESSAGE_KEYS
        if role == "assistant" and self.target == "curate":
            known = MESSAGE_KEYS | REASONING_KEYS
        unknown = sorted(k for k in m if k not in known)
        if unknown:
            yield _f(
                "message_unrecognized_key",
                E,
                f"unrecognized message key(s): {', '.join(repr(k) for k in unknown)}",
                loc,
                f"allowed keys: {', '.join(sorted(known))}; move extra data to metadata"
                + (
                    " (OpenAI's fine-tuning format has no reasoning field)"
                    if REASONING_KEYS & set(unknown) and self.target == "openai"
                    else ""
                ),
            )
        if not isinstance(role, str) or role not in ROLES:
            yield _f(
                "unrecognized_role",
                E,
                f"unrecognized role {role!r}",
                loc,
                f"use one of: {', '.join(sorted(ROLES))}",
            )
        content = m.get("content", None)
        function_call = m.get("function_call", None)
        if has_tool_calls and role == "assistant" and (content is None or isinstance(content, str)):
            return  # OpenAI's current format: content may be null beside tool_calls
        if _is_parts(content):
            return  # list-of-parts content (text / image_url)
        if (not content and not function_call) or not isinstance(content, str):
            what = "empty" if content in ("", None) else f"a JSON {json_type(content)}"
            yield _f(
                "missing_content",
                E,
                f"content is {what}",
                loc,
                "give the message a non-empty string content",
            )

    # -- OpenAI's tool calling ------------------------------------------------------
    def _tools_in_message(
        self,
        m: dict[str, Any],
        role: Any,
        loc: Location,
        call_ids: set[str],
        answered: set[str],
        tool_names: set[str] | None,
    ) -> Iterator[Finding]:
        if "tool_calls" in m:
            calls = m["tool_calls"]
            if role != "assistant":
                yield _f(
                    "invalid_tool_calls",
                    E,
                    f"tool_calls on a {role!r} message",
                    loc,
                    "only assistant messages may carry tool_calls",
                )
            if not isinstance(calls, list) or not calls:
                yield _f(
                    "invalid_tool_calls",
                    E,
                    "tool_calls must be a non-empty list",
                    loc,
                    'use [{"id": ..., "type": "function", "function": {"name": ..., '
                    '"arguments": "<JSON string>"}}]',
                )
            else:
                for j, call in enumerate(calls):
                    problem = _tool_call_problem(call)
                    if problem:
                        yield _f(
                            "invalid_tool_calls",
                            E,
                            f"tool_calls[{j}]: {problem}",
                            loc,
                            'each call is {"id": ..., "type": "function", "function": '
                            '{"name": ..., "arguments": "<JSON string>"}}',
                        )
                        continue
                    call_ids.add(call["id"])
                    answered.discard(call["id"])  # an id used again is a new call
                    fname = call["function"]["name"]
                    if tool_names is not None and fname not in tool_names:
                        have = ", ".join(sorted(tool_names)) or "none"
                        yield Finding(
                            "unknown_tool",
                            W,
                            f"tool_calls[{j}] (id {call['id']!r}) calls {fname!r}, which is not "
                            "in tools",
                            loc,
                            hint=f"declare it in tools (have: {have}), or fix the name",
                            data={"call_id": call["id"], "tool": fname},
                        )
        if role == "tool":
            cid = m.get("tool_call_id")
            if not isinstance(cid, str) or not cid:
                yield _f(
                    "tool_call_id_mismatch",
                    E,
                    "tool message has no tool_call_id",
                    loc,
                    "set tool_call_id to the id of the assistant tool call it answers",
                )
            elif cid not in call_ids:
                made = ", ".join(repr(c) for c in sorted(call_ids)[:5]) or "none"
                yield Finding(
                    "tool_call_id_mismatch",
                    E,
                    f"tool_call_id {cid!r} matches no preceding assistant tool call",
                    loc,
                    hint="answer a call made earlier in the conversation, with its exact id "
                    f"(calls so far: {made})",
                    data={"call_id": cid},
                )
            elif cid in answered:
                yield Finding(
                    "tool_call_id_mismatch",
                    W,
                    f"tool_call_id {cid!r} answers a call an earlier tool message already answered",
                    loc,
                    hint="keep one result per call: merge the two tool messages or drop one",
                    data={"call_id": cid},
                )
            else:
                answered.add(cid)
        elif "tool_call_id" in m:
            yield _f(
                "tool_call_id_mismatch",
                E,
                f"tool_call_id on a {role!r} message",
                loc,
                "only tool messages carry tool_call_id",
            )

    # -- weight, order, whitespace, special tokens ------------------------------------
    def _extras(
        self,
        m: dict[str, Any],
        role: Any,
        loc: Location,
        i: int,
        prev_role: str | None,
        messages: list[Any],
    ) -> Iterator[Finding]:
        if "weight" in m:
            w = m["weight"]
            if isinstance(w, bool) or w not in (0, 1):
                yield _f("invalid_weight", E, f"weight is {w!r}", loc, "weight must be 0 or 1")
            elif role != "assistant":
                yield _f(
                    "invalid_weight",
                    E,
                    f"weight on a {role!r} message",
                    loc,
                    "only assistant messages take a weight",
                )
        content = m.get("content")
        if isinstance(content, str):
            if content and not content.strip():
                yield _f(
                    "whitespace_only_content",
                    W,
                    "content is only whitespace",
                    loc,
                    "give the message real text or remove it",
                )
            if "<|" in content:
                match = SPECIAL_TOKEN_RE.search(content)
                if match:
                    yield Finding(
                        "special_token_in_text",
                        W,
                        f"text contains the special-token string {match.group()!r}",
                        loc,
                        hint="it is counted as plain text; remove it unless that is intended",
                        data={"span": [match.start(), match.end()], "token": match.group()},
                    )
        if role == "system" and i > 0:
            yield _f(
                "system_not_first",
                W,
                "system message is not the first message",
                loc,
                "put the system message first",
            )
        if (
            isinstance(role, str)
            and role == prev_role
            and role in ("user", "assistant")
            and "tool_calls" not in m
        ):
            yield _f(
                "consecutive_same_role",
                W,
                f"two {role} messages in a row",
                loc,
                "merge them or add the missing turn between them",
            )
        if (
            i == len(messages) - 1
            and role != "assistant"
            and any(isinstance(x, dict) and x.get("role") == "assistant" for x in messages)
        ):
            yield _f(
                "last_not_assistant",
                W,
                f"conversation ends with a {role!r} message after the last assistant reply",
                loc,
                "trailing messages are not trained on; end with the assistant reply",
            )
        elif i == len(messages) - 1 and role != "assistant":
            yield _f(
                "last_not_assistant",
                W,
                f"conversation ends with a {role!r} message",
                loc,
                "end the conversation with the assistant reply to train on",
            )

    def _top_level(self, data: dict[str, Any], loc: Location) -> Iterator[Finding]:
        allowed = _ALLOWED_TOP_LEVEL[self.target]
        unknown = sorted(k for k in data if k not in allowed)
        if unknown:
            sev = E if self.target == "openai" else W
            yield _f(
                "unrecognized_top_level_key",
                sev,
                f"top-level key(s) {', '.join(repr(k) for k in unknown)} not accepted by "
                f"{'OpenAI' if self.target == 'openai' else 'the chat format'}",
                loc,
                "remove them, or export with curate split --format openai",
            )
        if "tools" in data:
            problem = _tools_problem(data["tools"])
            if problem:
                yield _f(
                    "invalid_tools",
                    E,
                    f"tools: {problem}",
                    loc,
                    'tools is a list of {"type": "function", "function": {"name": ..., '
                    '"parameters": {...}}}',
                )
        if "parallel_tool_calls" in data and not isinstance(data["parallel_tool_calls"], bool):
            yield _f(
                "invalid_parallel_tool_calls",
                E,
                f"parallel_tool_calls is {data['parallel_tool_calls']!r}",
                loc,
                "use true or false",
            )


PREFERENCE_TOP_LEVEL = frozenset({"input", "preferred_output", "non_preferred_output"})


def is_preference(data: Any) -> bool:
    """True for an OpenAI preference (DPO) record (has ``input`` and ``preferred_output``)."""
    return isinstance(data, dict) and "input" in data and "preferred_output" in data


def countable_messages(data: Any) -> tuple[list[Any], Any] | None:
    """The messages (and tools) whose tokens an example costs: a chat record's
    ``messages``; for a preference record, the input messages plus both outputs. ``None``
    when the record holds nothing countable."""
    if not isinstance(data, dict):
        return None
    if is_preference(data):
        inp = data.get("input")
        msgs = inp.get("messages") if isinstance(inp, dict) else None
        if not isinstance(msgs, list) or not msgs:
            return None
        outs: list[Any] = []
        for key in ("preferred_output", "non_preferred_output"):
            v = data.get(key)
            outs.extend(v if isinstance(v, list) else [])
        return msgs + outs, inp.get("tools") if isinstance(inp, dict) else None
    msgs = data.get("messages")
    if isinstance(msgs, list) and msgs:
        return msgs, data.get("tools")
    return None


#: content part types a list content may hold: text and curate's canonical media parts
#: (curate.media); audio/video on --target openai are reported by the media checks
#: (media_unsupported_by_target), which say why
PART_TYPES = frozenset({"text", "image_url", "audio_url", "video_url"})


def _is_parts(content: Any) -> bool:
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and p.get("type") in PART_TYPES for p in content)
    )


def _tool_call_problem(call: Any) -> str | None:
    if not isinstance(call, dict):
        return "not an object"
    if not isinstance(call.get("id"), str) or not call["id"]:
        return "missing id"
    if call.get("type", "function") != "function":
        return f"type is {call.get('type')!r}, expected 'function'"
    fn = call.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        return "missing function.name"
    if not isinstance(fn.get("arguments"), str):
        return "function.arguments must be a JSON string"
    return None


def _tools_problem(tools: Any) -> str | None:
    if not isinstance(tools, list):
        return f"is a JSON {json_type(tools)}, not a list"
    for j, t in enumerate(tools):
        if not isinstance(t, dict) or t.get("type", "function") != "function":
            return f"[{j}] is not a function tool"
        fn = t.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            return f"[{j}] has no function.name"
    return None


def _tool_names(tools: Any) -> set[str] | None:
    if not isinstance(tools, list):
        return None
    names = set()
    for t in tools:
        if isinstance(t, dict) and isinstance(t.get("function"), dict):
            n = t["function"].get("name")
            if isinstance(n, str):
                names.add(n)
    return names
