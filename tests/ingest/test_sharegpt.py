from __future__ import annotations

import json

import pytest

from curate.ingest import get
from curate.ingest.base import Reject
from tests.ingest.helpers import FIXTURES, OPTS, reasons, roles, run


def test_fastchat_sharegpt_keeps_its_id_in_metadata() -> None:
    good, bad = run(FIXTURES / "sharegpt" / "fastchat.json")
    assert bad == []
    assert good[0]["metadata"] == {"id": "identity_0"}
    assert good[0]["messages"][:2] == [
        {"role": "user", "content": "Who are you?"},
        {
            "role": "assistant",
            "content": "I am Vicuna, a language model trained by researchers from Large "
            "Model Systems Organization (LMSYS).",
        },
    ]
    assert good[0]["id"] != "identity_0"  # ids are content hashes


def test_glaive_function_calls_become_tool_calls() -> None:
    good, bad = run(FIXTURES / "sharegpt" / "glaive_tools.json")
    assert bad == []
    rec = good[0]
    src = json.loads((FIXTURES / "sharegpt" / "glaive_tools.json").read_text())[0]
    assert rec["tools"] == [{"type": "function", "function": json.loads(src["tools"])[0]}]
    assert roles(rec)[:6] == ["user", "assistant", "user", "assistant", "tool", "assistant"]
    call = rec["messages"][3]
    assert call == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {
                    "name": "search_recipes",
                    "arguments": '{"ingredients": ["chicken", "bell peppers", "rice"]}',
                },
            }
        ],
    }
    assert rec["messages"][4]["tool_call_id"] == "call_1"
    assert rec["messages"][4]["content"].startswith('{"recipes": [')


def test_role_content_variant_and_system_field() -> None:
    good, bad = run(FIXTURES / "sharegpt" / "role_content.jsonl")
    assert bad == []
    assert roles(good[0]) == ["system", "user", "assistant", "user", "assistant"]
    assert good[0]["messages"][0]["content"] == "You are a helpful travel agent."
    assert roles(good[1]) == ["system", "user", "assistant"]
    assert good[1]["metadata"] == {"id": "oneword_1", "source": "handwritten"}


def test_sharegpt_bad_rows() -> None:
    good, bad = run(FIXTURES / "sharegpt" / "bad.jsonl")
    assert [g["metadata"]["id"] for g in good] == ["ok_1"]
    assert reasons(bad) == [
        (2, "unknown_role"),
        (3, "bad_tool_call"),
        (4, "bad_tool_call"),
        (5, "bad_tools"),
        (6, "wrong_type"),
        (7, "invalid_json"),
        (8, "empty_field"),
    ]
    assert bad[1].message == "conversations[1] is an observation that answers no function_call"
    assert bad[2].message.startswith("conversations[1] function_call is not valid JSON")
    assert bad[6].message == "conversations[1] (gpt) is empty"


def test_parallel_calls_are_answered_in_order() -> None:
    rec = {
        "conversations": [
            {"from": "human", "value": "Weather in Oslo and Rome?"},
            {
                "from": "function_call",
                "value": json.dumps(
                    [
                        {"name": "weather", "arguments": {"city": "Oslo"}},
                        {"name": "weather", "arguments": {"city": "Rome"}},
                    ]
                ),
            },
            {"from": "observation", "value": "3C"},
            {"from": "observation", "value": "18C"},
            {"from": "gpt", "value": "Oslo 3C, Rome 18C."},
        ]
    }
    out = get("sharegpt").convert(rec, OPTS)
    calls = out["messages"][1]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_1", "call_2"]
    assert calls[1]["function"]["arguments"] == '{"city": "Rome"}'
    assert [(m["tool_call_id"], m["content"]) for m in out["messages"][2:4]] == [
        ("call_1", "3C"),
        ("call_2", "18C"),
    ]


def test_function_call_without_name_is_rejected() -> None:
    rec = {"conversations": [{"from": "function_call", "value": '{"arguments": {}}'}]}
    with pytest.raises(Reject) as e:
        get("sharegpt").convert(rec, OPTS)
    assert (e.value.reason, e.value.message) == (
        "bad_tool_call",
        'conversations[0] function_call has no "name"',
    )


def test_sharegpt_preference_is_written_in_openai_dpo_shape() -> None:
    good, bad = run(FIXTURES / "sharegpt_preference" / "good.json")
    assert bad == []
    src = json.loads((FIXTURES / "sharegpt_preference" / "good.json").read_text())
    assert set(good[0]) == {"id", "input", "preferred_output", "non_preferred_output", "source"}
    assert good[0]["preferred_output"] == [
        {"role": "assistant", "content": src[0]["chosen"]["value"]}
    ]
    assert good[0]["non_preferred_output"] == [
        {"role": "assistant", "content": src[0]["rejected"]["value"]}
    ]
    assert next(m["role"] for m in good[1]["input"]["messages"]) == "system"


def test_sharegpt_preference_bad_rows() -> None:
    good, bad = run(FIXTURES / "sharegpt_preference" / "bad.jsonl")
    assert len(good) == 1
    assert reasons(bad) == [(2, "unknown_role"), (3, "missing_field")]
    assert bad[0].message == 'field "chosen" must hold assistant turns only'


def test_role_content_variant_keeps_openai_tool_calls() -> None:
    call = {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    rec = {
        "conversations": [
            {"role": "user", "content": "Run f"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c9", "content": "done"},
            {"role": "assistant", "content": "f is done."},
        ]
    }
    out = get("sharegpt").convert(rec, OPTS)
    assert out["messages"] == [
        {"role": "user", "content": "Run f"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c9", "content": "done"},
        {"role": "assistant", "content": "f is done."},
    ]
