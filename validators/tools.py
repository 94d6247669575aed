"""Tool calls checked against the tools they call: arguments that are JSON and match the
declared tool's ``parameters`` schema (JSON Schema, checked with ``jsonschema``).

The format check (:mod:`curate.validators.format`) reports the structure: a malformed
``tools`` list or call (``invalid_tools``, ``invalid_tool_calls``, e.g. ``arguments`` that
is not a string), a call to a tool ``tools`` does not declare (``unknown_tool``), a tool
result that answers no call (``tool_call_id_mismatch``) and a call nobody answers
(``tool_call_unanswered``). This module adds what needs the arguments read:

- ``invalid_tool_arguments`` (error): a call's ``arguments`` is not valid JSON (strict:
  no ``NaN``), or is JSON but not an object (a function takes named arguments);
- ``tool_arguments_mismatch`` (error): the arguments do not match the called tool's
  ``parameters`` schema (a missing required argument, a wrong type, a value outside an
  ``enum``...); the message gives the first error (jsonschema's ``best_match``) and its
  JSON path;
- ``invalid_tool_schema`` (warning): a declared tool's ``parameters`` is not a valid JSON
  Schema (the dialect its ``$schema`` names, else Draft 2020-12), or holds a ``$ref``
  that cannot be resolved (remote references are never fetched); its calls are then not
  checked. Reported on ``tools`` (no message index), once per tool.

Shapes read: OpenAI's ``tools`` (``{"type": "function", "function": {"name",
"parameters"}}``) with assistant ``tool_calls``, and the legacy ``functions`` with
``function_call``; ``arguments`` given as an object rather than a string is checked
against the schema too (the format check reports its type). Preference records: the
input's ``tools`` and messages, and both outputs.

Cost: each distinct schema is compiled once per process (cached by its canonical JSON),
and a record without tools or calls costs one pass over its messages' keys.

Example:
    >>> from curate.records import Example, Location
    >>> tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
    ...     "type": "object", "properties": {"city": {"type": "string"}},
    ...     "required": ["city"]}}}
    >>> call = {"id": "call_1", "type": "function",
    ...         "function": {"name": "get_weather", "arguments": '{"town": "Paris"}'}}
    >>> ex = Example({"tools": [tool], "messages": [{"role": "user", "content": "Weather?"},
    ...     {"role": "assistant", "content": None, "tool_calls": [call]}]},
    ...     Location("t.jsonl", 3))
    >>> [(f.code, f.location.message_index) for f in ToolArguments().check(ex)]
    [('tool_arguments_mismatch', 1)]
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from curate.records import Example, Finding, Location, Severity, json_type
from curate.validators.base import record_messages

#: code -> (severity, what it finds); the validator's documentation in one place
CODES: dict[str, tuple[Severity, str]] = {
    "invalid_tool_arguments": (Severity.ERROR, "a call's arguments are not a JSON object"),
    "tool_arguments_mismatch": (
        Severity.ERROR,
        "a call's arguments do not match the tool's parameters schema",
    ),
    "invalid_tool_schema": (Severity.WARNING, "a tool's parameters is not a valid JSON Schema"),
}

#: compiled schemas by canonical JSON: a validator, or the reason the schema is invalid
_COMPILED: dict[bytes, Any] = {}
_MAX_COMPILED = 4096
MAX_MESSAGE = 240


def _short(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _canonical(schema: Any) -> bytes:
    try:
        return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits
        return json.dumps(schema, sort_keys=True, default=repr).encode()


def compiled(schema: Any) -> Any:
    """The ``jsonschema`` validator for ``schema`` (the class its ``$schema`` names, else
    Draft 2020-12), or a ``str`` saying why the schema is invalid. Compiled once per
    process per distinct schema.

    Example:
        >>> compiled({"type": "object"}).is_valid({})
        True
        >>> compiled({"type": "int"})
        "'int' is not valid under any of the given schemas (at type)"
    """
    try:
        key = _canonical(schema)
    except RecursionError:
        return "nested too deeply to check"
    hit = _COMPILED.get(key)
    if hit is not None:
        return hit
    if len(_COMPILED) >= _MAX_COMPILED:
        _COMPILED.clear()  # bounded: a file of ever-new schemas recompiles, never grows
    _COMPILED[key] = result = _compile(schema)
    return result


def _compile(schema: Any) -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError, best_match
    from jsonschema.validators import validator_for
    from jsonschema_specifications import REGISTRY

    if not isinstance(schema, (dict, bool)):
        return f"is a JSON {json_type(schema)}, not a schema object"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown $schema: the default dialect is used
        cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except RecursionError:
        return "nested too deeply to check"
    except SchemaError:
        # the first error in path order (the metaschema's own error order can vary from
        # one process to the next)
        meta = cls(cls.META_SCHEMA)
        e = best_match(sorted(meta.iter_errors(schema), key=_order))
        if e is None:  # not expected: check_schema found one
            return "rejected by its metaschema"
        where = "/".join(str(p) for p in e.path)
        return _short(e.message) + (f" (at {where})" if where else "")
    # the metaschemas only: a $ref to anything outside the schema is never fetched
    return cls(schema, registry=REGISTRY)


def _order(e: Any) -> tuple[list[str], str]:
    return [str(p) for p in e.absolute_path], str(e.validator)


def _first_error(validator: Any, args: Any) -> tuple[str, int] | str:
    """``(message, number of errors)`` when ``args`` does not match, ``""`` when it
    does; a non-empty ``str`` when the schema cannot be used (an unresolvable ``$ref``, a
    reference cycle)."""
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    try:
        errors = list(validator.iter_errors(args))
    except Unresolvable as e:
        return f"$ref cannot be resolved: {_short(str(e), 120)}"
    except RecursionError:
        return "$ref cycle, or nesting too deep to check"
    if not errors:
        return ""
    best = best_match(sorted(errors, key=_order))
    assert best is not None
    path = best.json_path
    at = f"at {path}: " if path != "$" else ""
    return f"{at}{_short(best.message, 160)}", len(errors)


def _declared(data: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Declared function name -> (where it is declared, its ``parameters`` or ``None``)."""
    out: dict[str, tuple[str, Any]] = {}
    tools = data.get("tools")
    for k, t in enumerate(tools if isinstance(tools, list) else ()):
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out.setdefault(fn["name"], (f"tools[{k}].function.parameters", fn.get("parameters")))
    functions = data.get("functions")
    for k, fn in enumerate(functions if isinstance(functions, list) else ()):
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out.setdefault(fn["name"], (f"functions[{k}].parameters", fn.get("parameters")))
    return out


def _calls(m: dict[str, Any]) -> Iterator[tuple[str, str | None, str, Any]]:
    """``(label, call id, function name, arguments)`` for each well-formed call."""
    calls = m.get("tool_calls")
    for j, call in enumerate(calls if isinstance(calls, list) else ()):
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str) and "arguments" in fn:
            cid = call.get("id")
            yield (
                f"tool_calls[{j}]",
                cid if isinstance(cid, str) else None,
                fn["name"],
                fn["arguments"],
            )
    fc = m.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("name"), str) and "arguments" in fc:
        yield "function_call", None, fc["name"], fc["arguments"]


@dataclass(frozen=True, slots=True)
class ToolArguments:
    """Tool-call arguments against the declared tools' schemas (see the module docstring)."""

    name: str = "tools"

    def check(self, ex: Example) -> Iterator[Finding]:
        data = ex.data
        if not isinstance(data, dict):
            return
        holder = data
        if "input" in data and "preferred_output" in data and isinstance(data.get("input"), dict):
            holder = data["input"]  # a preference record declares its tools in the input
        if "tools" not in holder and "functions" not in holder:
            msgs = (m for _, _, m in record_messages(data))
            if not any("tool_calls" in m or "function_call" in m for m in msgs):
                return  # the common record: no tools, no calls
        declared = _declared(holder)
        schemas: dict[str, Any] = {}  # name -> validator, or None when not checkable
        for fname, (where, params) in declared.items():
            if params is None:
                schemas[fname] = None  # no parameters: nothing to check the arguments against
                continue
            v = compiled(params)
            if isinstance(v, str):
                schemas[fname] = None
                yield self._bad_schema(ex.source, where, fname, v)
            else:
                schemas[fname] = v
        reported_ref: set[str] = set()
        for i, prefix, m in record_messages(data):
            if "tool_calls" not in m and "function_call" not in m:
                continue
            loc = ex.source.with_message(i)
            for label, cid, fname, raw in _calls(m):
                who = f"{prefix}{label}" + (f" (id {cid!r})" if cid else "") + f" to {fname!r}"
                args = raw
                if isinstance(raw, str):
                    try:
                        args = orjson.loads(raw)
                    except orjson.JSONDecodeError as e:
                        yield Finding(
                            "invalid_tool_arguments",
                            Severity.ERROR,
                            f"{who}: arguments are not valid JSON ({_short(str(e), 120)}): "
                            f"{_short(repr(raw), 80)}",
                            loc,
                            hint='write arguments as a JSON object in a string, e.g. "{\\"city\\": '
                            '\\"Paris\\"}" (double quotes, no trailing commas, no NaN)',
                            data={"call_id": cid, "tool": fname},
                        )
                        continue
                elif not isinstance(raw, dict):
                    continue  # the format check reports the type
                if not isinstance(args, dict):
                    yield Finding(
                        "invalid_tool_arguments",
                        Severity.ERROR,
                        f"{who}: arguments are a JSON {json_type(args)}, not an object",
                        loc,
                        hint='pass named arguments as a JSON object, e.g. {"city": "Paris"} '
                        "({} when the tool takes none)",
                        data={"call_id": cid, "tool": fname},
                    )
                    continue
                validator = schemas.get(fname)
                if validator is None:
                    continue  # undeclared (unknown_tool), no parameters, or a broken schema
                problem = _first_error(validator, args)
                if isinstance(problem, str):
                    if problem and fname not in reported_ref:  # the schema cannot be used
                        reported_ref.add(fname)
                        yield self._bad_schema(ex.source, declared[fname][0], fname, problem)
                    continue
                first, n = problem
                more = f" (+{n - 1} more)" if n > 1 else ""
                yield Finding(
                    "tool_arguments_mismatch",
                    Severity.ERROR,
                    f"{who}: arguments do not match the schema in {declared[fname][0]}: "
                    f"{first}{more}",
                    loc,
                    hint=f"fix the call's arguments to match {declared[fname][0]} (or fix "
                    "the schema if the call is right); the model learns the calls as written",
                    data={"call_id": cid, "tool": fname, "errors": n},
                )

    @staticmethod
    def _bad_schema(source: Location, where: str, fname: str, why: str) -> Finding:
        return Finding(
            "invalid_tool_schema",
            Severity.WARNING,
            f"{where} (tool {fname!r}) is not a valid JSON Schema: {why}; its calls are not "
            "checked",
            source,
            hint="fix the schema (JSON Schema Draft 2020-12 unless $schema names another; "
            'types are "string", "integer", "number", "boolean", "object", "array", "null"); '
            "inline any $ref target under $defs",
            data={"tool": fname, "where": where},
        )
