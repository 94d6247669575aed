"""Tool calls against their tools (validators/tools.py, and the format check's tool codes it
extends): each finding on a real-shaped record (LLaMA-Factory's glaive_toolcall demo shape
after ingest, OpenAI's function-calling example) that triggers it, and one that does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curate.ingest import ingest_paths
from curate.records import Example, Location, Severity
from curate.validate import standard_validators, validate_path
from curate.validators import tools as tools_mod
from curate.validators.format import OpenAIFormat
from curate.validators.tools import CODES, ToolArguments, compiled

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "fixtures" / "tools" / "tool_calls.jsonl"
BAD = ROOT / "fixtures" / "tools" / "tool_calls_bad.jsonl"
GLAIVE = ROOT / "fixtures" / "sharegpt" / "glaive_tools.json"

TOOL_CODES = set(CODES) | {"unknown_tool", "tool_call_id_mismatch", "tool_call_unanswered"}


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def findings(data: Any, line: int = 1) -> list[Any]:
    ex = Example(data, Location("t.jsonl", line))
    return [*OpenAIFormat().check(ex), *ToolArguments().check(ex)]


def tool_codes(data: Any) -> list[tuple[str, int | None]]:
    return [(f.code, f.location.message_index) for f in findings(data) if f.code in TOOL_CODES]


#: line of tool_calls_bad.jsonl -> the tool findings it triggers
EXPECTED_BAD = {
    1: [("invalid_tool_arguments", 1)],  # trailing comma
    2: [("invalid_tool_arguments", 1)],  # a JSON array
    3: [("tool_arguments_mismatch", 1)],  # an array for a number (glaive demo record 260)
    4: [("tool_arguments_mismatch", 1)],  # a required argument missing, a value outside enum
    5: [("invalid_tool_schema", None)],  # "type": "int"
    6: [("unknown_tool", 1)],  # a call to an undeclared tool
    7: [("tool_call_id_mismatch", 2), ("tool_call_unanswered", 1)],  # answers no call
    8: [("tool_call_id_mismatch", 3)],  # the same call answered twice
    9: [("invalid_tool_schema", None)],  # a $ref outside the schema, never fetched
}


@pytest.mark.parametrize("line", sorted(EXPECTED_BAD))
def test_each_bad_record_triggers_its_finding(line: int) -> None:
    assert tool_codes(rows(BAD)[line - 1]) == EXPECTED_BAD[line]


@pytest.mark.parametrize("k", range(5))
def test_good_records_trigger_nothing(k: int) -> None:
    """Valid calls: plain, an enum, an internal $ref to $defs, a tool without parameters
    called with {}, and one call id reused in two turns, each answered once."""
    assert findings(rows(GOOD)[k]) == []


def test_every_code_has_a_trigger_and_a_near_miss() -> None:
    triggered = {c for codes in EXPECTED_BAD.values() for c, _ in codes}
    assert set(CODES) <= triggered
    assert {"unknown_tool", "tool_call_id_mismatch"} <= triggered


def test_messages_say_what_where_and_how_to_fix() -> None:
    bad = rows(BAD)
    (f,) = [f for f in findings(bad[0], line=1) if f.code == "invalid_tool_arguments"]
    assert f.severity is Severity.ERROR
    assert (f.location.file, f.location.line, f.location.message_index) == ("t.jsonl", 1, 1)
    assert f.message.startswith(
        "tool_calls[0] (id 'call_1') to 'search_recipes': arguments are not valid JSON "
        "(trailing comma is not allowed: line 1 column 52 (char 51))"
    )
    assert f.data == {"call_id": "call_1", "tool": "search_recipes"}
    assert "JSON object" in (f.hint or "")
    (f,) = [f for f in findings(bad[2]) if f.code == "tool_arguments_mismatch"]
    assert f.message == (
        "tool_calls[0] (id 'call_1') to 'track_calories': arguments do not match the schema "
        "in tools[0].function.parameters: at $.calories_per_item: [150, 350, 800] is not of "
        "type 'number'"
    )
    assert f.data == {"call_id": "call_1", "tool": "track_calories", "errors": 1}
    (f,) = [f for f in findings(bad[3]) if f.code == "tool_arguments_mismatch"]
    assert f.message.endswith("'location' is a required property (+1 more)")
    (f,) = [f for f in findings(bad[4]) if f.code == "invalid_tool_schema"]
    assert f.severity is Severity.WARNING and f.location.message_index is None
    assert f.message == (
        "tools[0].function.parameters (tool 'random_number') is not a valid JSON Schema: "
        "'int' is not valid under any of the given schemas (at properties/min/type); its calls "
        "are not checked"
    )
    (f,) = [f for f in findings(bad[5]) if f.code == "unknown_tool"]
    assert f.message == (
        "tool_calls[0] (id 'call_1') calls 'order_ingredients', which is not in tools"
    )
    assert f.hint == "declare it in tools (have: search_recipes), or fix the name"
    (f,) = [f for f in findings(bad[6]) if f.code == "tool_call_id_mismatch"]
    assert f.hint and f.hint.endswith("(calls so far: 'call_1')")
    (f,) = [f for f in findings(bad[7]) if f.code == "tool_call_id_mismatch"]
    assert f.severity is Severity.WARNING and "already answered" in f.message


def test_the_fix_the_hint_suggests_clears_the_finding() -> None:
    bad = rows(BAD)[0]
    call = bad["messages"][1]["tool_calls"][0]["function"]
    call["arguments"] = json.dumps(json.loads(call["arguments"].replace(",}", "}")))
    assert tool_codes(bad) == []
    schema = rows(BAD)[4]
    props = schema["tools"][0]["function"]["parameters"]["properties"]
    props["min"]["type"] = props["max"]["type"] = "integer"
    assert tool_codes(schema) == []


def test_legacy_functions_and_preference_records_are_checked() -> None:
    legacy = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "w", "arguments": '{"city": 3}'},
            },
            {"role": "function", "name": "w", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
        ],
        "functions": [
            {
                "name": "w",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    }
    (f,) = ToolArguments().check(Example(legacy, Location("t.jsonl", 1)))
    assert f.code == "tool_arguments_mismatch" and "functions[0].parameters" in f.message
    pref = {
        "input": {
            "messages": [{"role": "user", "content": "Weather?"}],
            "tools": [rows(GOOD)[1]["tools"][0]],
        },
        "preferred_output": [rows(GOOD)[1]["messages"][1]],
        "non_preferred_output": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "get_current_weather", "arguments": "{}"},
                    }
                ],
            }
        ],
    }
    out = list(ToolArguments().check(Example(pref, Location("t.jsonl", 1))))
    assert [(f.code, f.location.message_index) for f in out] == [("tool_arguments_mismatch", None)]
    assert out[0].message.startswith("non_preferred_output: tool_calls[0]")


def test_arguments_given_as_an_object_are_checked_against_the_schema_too() -> None:
    data = rows(BAD)[2]
    fn = data["messages"][1]["tool_calls"][0]["function"]
    fn["arguments"] = json.loads(fn["arguments"])
    codes = [f.code for f in findings(data)]
    assert "invalid_tool_calls" in codes  # the format check: arguments must be a string
    assert "tool_arguments_mismatch" in codes  # and the schema check still reads them


def test_each_distinct_schema_is_compiled_once() -> None:
    tools_mod._COMPILED.clear()
    schema = rows(GOOD)[1]["tools"][0]["function"]["parameters"]
    first = compiled(schema)
    reordered = json.loads(json.dumps(schema, sort_keys=True))  # same schema, other key order
    assert compiled(reordered) is first and len(tools_mod._COMPILED) == 1
    for r in rows(GOOD) * 3:
        list(ToolArguments().check(Example(r, Location("t.jsonl", 1))))
    assert len(tools_mod._COMPILED) == 3  # one per distinct schema (one tool has none)


def test_a_record_without_tools_or_calls_is_skipped() -> None:
    plain = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    }
    assert list(ToolArguments().check(Example(plain, Location("t.jsonl", 1)))) == []


def test_glaive_demo_after_ingest_has_no_tool_findings(tmp_path: Path) -> None:
    """LLaMA-Factory's glaive_toolcall demo (fixture copy) after ingest: every call's
    arguments match its schema; the standard validators run the tool checks."""
    out = tmp_path / "glaive.jsonl"
    rep = ingest_paths([GLAIVE], out)
    assert rep.rejected == 0
    validators, _ = standard_validators(content=False, duplicates="none")
    assert "tools" in [v.name for v in validators]
    report = validate_path([out], validators=validators)
    assert not [f for f in report.findings if f.code in TOOL_CODES]
    bad = validate_path([BAD], validators=validators)
    assert sorted({f.code for f in bad.findings} & TOOL_CODES) == sorted(TOOL_CODES)


def test_a_reference_cycle_or_a_schema_too_deep_is_a_schema_finding_not_a_crash() -> None:
    cycle = {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(400):
        deep = {"type": "object", "properties": {"a": deep}}
    for schema in (cycle, deep):
        data = rows(GOOD)[3]  # get_random_fact, called with {}
        data["tools"][0]["function"]["parameters"] = schema
        out = list(ToolArguments().check(Example(data, Location("t.jsonl", 1))))
        assert [f.code for f in out] == ["invalid_tool_schema"]
        assert "too deep" in out[0].message


def test_every_code_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in TOOL_CODES - {"tool_call_unanswered"}:
        assert f"`{code}`" in readme, code
