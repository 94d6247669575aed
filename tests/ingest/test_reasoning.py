"""Reasoning traces and LLaMA-Factory v1 at ingest: one canonical shape
(``reasoning_content`` + ``content``), and nothing ingest writes is structurally invalid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.ingest import detect, ingest_paths
from curate.ingest.base import IngestOptions, Reject, get
from curate.ingest.reasoning import inline_trace, split_reasoning
from curate.records import Severity
from curate.validate import standard_validators, validate_path
from tests.ingest.helpers import FIXTURES, lines, reasons, run

LF = FIXTURES / "llamafactory"
RS = FIXTURES / "reasoning"


def assistant(rec: dict[str, Any], k: int = -1) -> dict[str, Any]:
    return [m for m in rec["messages"] if m["role"] == "assistant"][k]


# -- inline <think>, reasoning_content, thinking ----------------------------------------


def test_inline_think_is_split_into_reasoning_content_and_answer() -> None:
    good, bad = run(RS / "think.jsonl")
    assert not bad and len(good) == 4
    a = assistant(good[0])
    assert a == {
        "role": "assistant",
        "content": "17 * 24 = 408.",
        "reasoning_content": "17 * 24 = 17 * 20 + 17 * 4 = 340 + 68 = 408.",
    }
    # Qwen3's non-thinking form (an empty block) means no trace
    assert assistant(good[2]) == {"role": "assistant", "content": "Bonjour."}
    assert good[3]["messages"][0]["role"] == "system"
    assert all("<think>" not in m["content"] for r in good for m in r["messages"])


def test_malformed_think_blocks_are_rejects_with_a_reason() -> None:
    good, bad = run(RS / "think_bad.jsonl")
    assert not good
    assert reasons(bad) == [(n, "bad_reasoning") for n in (1, 2, 3, 4, 5)]
    messages = [r.message for r in bad]
    assert "never closed" in messages[0]
    assert "not followed by an answer" in messages[1]
    assert messages[2] == (
        "messages[1]: </think> appears more than once without an opening <think>, so where "
        "the trace ends is ambiguous; keep one trace ending in </think> (or move the trace to "
        "reasoning_content)"
    )
    assert "more than one <think> block" in messages[3]
    assert "mixes <think> and <thinking> tags" in messages[4]
    assert all(r.record["messages"][1]["content"] for r in bad)  # original record kept


def test_thinking_blocks_and_deepseek_r1_closing_tags_are_split() -> None:
    good, bad = run(RS / "think_variants.jsonl")
    assert not bad and len(good) == 4
    # <thinking>...</thinking>, split like <think>
    assert assistant(good[0]) == {
        "role": "assistant",
        "content": "No: 221 = 13 * 17.",
        "reasoning_content": "221 = 13 * 17, so it has divisors other than 1 and itself.",
    }
    # DeepSeek-R1: the template wrote "<think>\n", the data is "trace</think>answer"
    assert assistant(good[1]) == {
        "role": "assistant",
        "content": "9.9 is larger.",
        "reasoning_content": "Compare the tenths: 9.9 has 9 tenths, 9.11 has 1.",
    }
    # a quoted mention of the tag is text, not a trace
    src = lines(RS / "think_variants.jsonl")
    assert good[2]["messages"] == src[2]["messages"]
    # an empty R1 trace: no trace
    assert assistant(good[3]) == {"role": "assistant", "content": "Bonjour."}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<thinking>a</thinking>b", ("a", "b")),
        ("  <think>\na\n</think>\n\nb", ("a", "b")),
        ("a\n</thinking>\nb", ("a", "b")),
        ('The tag "</think>" ends a trace.', None),
        ("Answer. <think>not a leading block</think>", None),
        ("plain answer", None),
    ],
)
def test_inline_trace_shapes(content: str, expected: tuple[str, str] | None) -> None:
    assert inline_trace(content) == expected


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("a</think>b</think>c", "more than once without an opening"),
        ("<thinking>a</think>b", "mixes <think> and <thinking>"),
        ("<thinking>a", "<thinking> is never closed by </thinking>"),
        ("a</think>\n\n", "not followed by an answer"),
    ],
)
def test_ambiguous_think_variants_are_rejected(content: str, fragment: str) -> None:
    with pytest.raises(Reject, match=fragment) as e:
        split_reasoning({"role": "assistant", "content": content}, "messages[1]")
    assert e.value.reason == "bad_reasoning"


def test_reasoning_content_is_kept_and_thinking_becomes_reasoning_content() -> None:
    good, bad = run(RS / "reasoning_content.jsonl")
    assert not bad
    src = lines(RS / "reasoning_content.jsonl")
    assert good[0]["messages"] == src[0]["messages"]  # already canonical: unchanged
    assert assistant(good[1]) == {
        "role": "assistant",
        "content": "yrassecen",
        "reasoning_content": src[1]["messages"][1]["thinking"],
    }
    assert [m.get("reasoning_content") for m in good[2]["messages"]][1::2] == [
        "Not Sydney: the capital is Canberra.",
        "Not Auckland: it is Wellington.",
    ]


def test_sharegpt_gpt_turns_with_think_are_split() -> None:
    good, bad = run(RS / "sharegpt_think.json")
    assert not bad and [r["source"]["format"] for r in good] == ["sharegpt", "sharegpt"]
    assert assistant(good[0]) == {
        "role": "assistant",
        "content": "15% of 80 is 12.",
        "reasoning_content": "0.15 * 80 = 12.",
    }
    assert good[0]["metadata"] == {"id": "sg1"}


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ({"thinking": "a", "reasoning_content": "b", "content": "x"}, "different traces"),
        ({"reasoning_content": "a", "content": "<think>b</think>x"}, "keep one trace"),
        ({"reasoning_content": ["a"], "content": "x"}, "expected a string"),
    ],
)
def test_conflicting_or_mistyped_traces_are_rejected(
    message: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(Reject, match=fragment):
        split_reasoning({"role": "assistant", **message}, "messages[1]")


def test_reasoning_key_becomes_reasoning_content() -> None:
    m = {"role": "assistant", "reasoning": "221 = 13 * 17.", "content": "No."}
    assert split_reasoning(m) == {
        "role": "assistant",
        "reasoning_content": "221 = 13 * 17.",
        "content": "No.",
    }
    plain = {"role": "assistant", "content": "No."}
    assert split_reasoning(dict(plain)) == plain  # no trace: nothing added
    with pytest.raises(Reject, match="different traces"):
        split_reasoning({**m, "thinking": "another trace"})


def test_same_trace_under_both_names_is_kept_once() -> None:
    m = {"role": "assistant", "thinking": "a", "reasoning_content": "a", "content": "x"}
    assert split_reasoning(m) == {"role": "assistant", "reasoning_content": "a", "content": "x"}


def test_a_trace_before_a_tool_call_needs_no_text_answer() -> None:
    m = {"role": "assistant", "content": "<think>call it</think>", "tool_calls": [{"id": "c"}]}
    assert split_reasoning(m)["reasoning_content"] == "call it"
    assert m["content"] == ""


# -- LLaMA-Factory v1 --------------------------------------------------------------------


def test_llamafactory_v1_is_detected_apart_from_openai_chat() -> None:
    v1 = lines(LF / "v1_reason_tool.jsonl")
    assert detect(v1).format == "llamafactory"
    assert "typed content parts" in detect(v1).reason
    assert detect(lines(RS / "reasoning_content.jsonl")).format == "openai"
    # OpenAI's own parts ({"type": "text", "text": ...}) stay OpenAI chat
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert detect([parts]).format == "openai"


def test_llamafactory_v1_converts_reasoning_tool_calls_weights_and_tools() -> None:
    good, bad = run(LF / "v1_reason_tool.jsonl")
    assert not bad and len(good) == 5
    assert good[0]["messages"] == [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "Hello! I am an AI assistant. How can I help you today?",
            "weight": 1,
        },
    ]
    assert good[0]["metadata"] == {"_dataset_name": "identity"}
    assert assistant(good[1])["reasoning_content"].startswith("Average speed is distance")
    tool_use = good[2]
    assert [m["role"] for m in tool_use["messages"]] == ["user", "assistant", "tool", "assistant"]
    call = tool_use["messages"][1]
    assert call["content"] is None and call["reasoning_content"].startswith("I need")
    assert call["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {
                "name": "get_exchange_rate",
                "arguments": json.dumps({"base": "USD", "target": "EUR"}),
            },
        }
    ]
    assert tool_use["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"rate": 0.92}',
    }
    assert tool_use["tools"][0]["type"] == "function"
    assert tool_use["tools"][0]["function"]["name"] == "get_exchange_rate"
    # loss_weight 0 on an earlier reply -> weight 0; extra_info -> metadata
    assert [m.get("weight") for m in good[3]["messages"]] == [None, 0, None, 1]
    assert "extra_info" in good[3]["metadata"]
    # a system turn that only declared the tools becomes top-level tools
    assert good[4]["messages"][0]["role"] == "user"
    assert good[4]["tools"] == tool_use["tools"]


def test_llamafactory_v1_what_cannot_be_mapped_is_rejected_with_a_reason() -> None:
    good, bad = run(LF / "bad.jsonl")
    assert not good
    assert reasons(bad) == [
        (1, "unsupported_content"),  # a part type curate does not know (file)
        (2, "bad_loss_weight"),  # 0.5
        (3, "bad_tool_call"),  # a tool result answering no call
        (4, "bad_tool_call"),  # a call that is not JSON
        (5, "unsupported_content"),  # reasoning on a user message
        (6, "bad_reasoning"),  # a trace and no answer
        (7, "bad_reasoning"),  # unclosed <think> in a text part
    ]
    assert "'file'" in bad[0].message and "unknown part type" in bad[0].message


def test_llamafactory_non_assistant_loss_weight_and_tools_twice() -> None:
    conv = get("llamafactory").convert
    user = {"role": "user", "content": [{"type": "text", "value": "hi"}], "loss_weight": 1.0}
    reply = {"role": "assistant", "content": [{"type": "text", "value": "yo"}]}
    with pytest.raises(Reject, match="only assistant messages are trained on") as e:
        conv({"messages": [user, reply]}, IngestOptions())
    assert e.value.reason == "bad_loss_weight"
    tools = json.dumps([{"name": "f", "parameters": {"type": "object"}}])
    system = {"role": "system", "content": [{"type": "tools", "value": tools}]}
    with pytest.raises(Reject, match="declared twice"):
        conv({"messages": [system, reply], "tools": tools}, IngestOptions())
    user["loss_weight"] = 0.0
    with pytest.raises(Reject, match="no assistant message") as e:
        conv({"messages": [user]}, IngestOptions())
    assert e.value.reason == "missing_field"


# -- ingest never writes what validate calls structurally invalid ------------------------

NEW_FIXTURES = [
    LF / "v1_reason_tool.jsonl",
    RS / "think.jsonl",
    RS / "reasoning_content.jsonl",
    RS / "sharegpt_think.json",
    RS / "think_variants.jsonl",
]
#: findings about content, not structure, that a fixture carries on purpose
DELIBERATE = {"assistant_boilerplate"}  # LLaMA-Factory's identity reply: "I am an AI assistant"


@pytest.mark.parametrize("src", NEW_FIXTURES, ids=lambda p: p.name)
def test_ingested_fixtures_validate_without_errors(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    rep = ingest_paths([src], out)
    assert rep.rejected == 0 and rep.written == rep.read > 0
    validators, corpus = standard_validators(duplicates="none")
    report = validate_path([out], validators=validators, corpus_validators=corpus)
    errors = [f for f in report.findings if f.severity == Severity.ERROR]
    assert not errors, errors
    assert {f.code for f in report.findings} <= DELIBERATE
    # the strict OpenAI target refuses reasoning_content: OpenAI has no such field
    strict = validate_path([out], target="openai", validators=validators)
    has_trace = any("reasoning_content" in m for r in lines(out) for m in r["messages"])
    assert has_trace == any(f.code == "message_unrecognized_key" for f in strict.findings)


# -- the split is the Qwen3 chat template's own ------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from("ab \n<>/"), max_size=12).filter(
    lambda t: "<think>" not in t and "</think>" not in t
)


@settings(max_examples=300, deadline=None)
@given(pre=st.sampled_from(["", "\n", "  "]), trace=_TEXT, answer=_TEXT)
def test_split_matches_the_qwen3_template_split(pre: str, trace: str, answer: str) -> None:
    """Qwen3's template reads an inline block as ``content.split('</think>')[0]
    .rstrip('\\n').split('<think>')[-1].lstrip('\\n')`` (trace) and
    ``content.split('</think>')[-1].lstrip('\\n')`` (answer); an empty trace renders as no
    trace. Whatever ingest accepts, it splits the same way."""
    content = f"{pre}<think>{trace}</think>{answer}"
    try:
        m = split_reasoning({"role": "assistant", "content": content})
    except Reject as e:
        assert e.reason == "bad_reasoning" and not answer.lstrip("\n").strip()
        return
    qwen_trace = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
    assert m["content"] == content.split("</think>")[-1].lstrip("\n")
    assert m.get("reasoning_content", "") == (qwen_trace if qwen_trace.strip() else "")
