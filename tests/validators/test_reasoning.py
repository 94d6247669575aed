"""validators/reasoning.py: each finding on a record that triggers it and one that does not;
the format check's view of reasoning_content per target; registration."""

from __future__ import annotations

from typing import Any

import pytest

from curate.records import Example, Location, Severity
from curate.validate import standard_validators
from curate.validators.format import OpenAIFormat
from curate.validators.reasoning import CODES, Reasoning

Q = {"role": "user", "content": "Is 91 a prime number?"}


def chat(**assistant: Any) -> dict[str, Any]:
    return {"messages": [Q, {"role": "assistant", **assistant}]}


def found(data: Any) -> list[tuple[str, int | None]]:
    ex = Example(data, Location("r.jsonl", 7))
    return [(f.code, f.location.message_index) for f in Reasoning().check(ex)]


#: a distilled reply in the canonical shape: no finding
GOOD = chat(reasoning_content="91 = 7 * 13.", content="No: 91 = 7 × 13.")

CASES = {
    "reasoning_unclosed": [
        (chat(content="<think>\n91 = 7 * 13, so"), [("reasoning_unclosed", 1)]),
        (chat(reasoning_content="<think>91 = 7 * 13.", content="No."), [("reasoning_unclosed", 1)]),
        (chat(content="<thinking>\n91 = 7 * 13, so"), [("reasoning_unclosed", 1)]),
    ],
    "reasoning_empty": [
        (chat(reasoning_content="", content="No."), [("reasoning_empty", 1)]),
        (chat(reasoning_content=" \n", content="No."), [("reasoning_empty", 1)]),
    ],
    "reasoning_without_answer": [
        (chat(reasoning_content="91 = 7 * 13.", content=""), [("reasoning_without_answer", 1)]),
        (chat(reasoning_content="91 = 7 * 13.", content=None), [("reasoning_without_answer", 1)]),
        (
            chat(content="<think>91 = 7 * 13.</think>\n"),
            [("reasoning_without_answer", 1), ("think_tags_in_answer", 1)],
        ),
    ],
    "think_tags_in_answer": [
        (chat(content="<think>91 = 7 * 13.</think>No."), [("think_tags_in_answer", 1)]),
        (chat(reasoning_content="x", content="No. </think>"), [("think_tags_in_answer", 1)]),
        (chat(content="<thinking>91 = 7 * 13.</thinking>No."), [("think_tags_in_answer", 1)]),
        # DeepSeek-R1's shape: the data holds only the closing tag
        (chat(content="91 = 7 * 13.\n</think>\n\nNo."), [("think_tags_in_answer", 1)]),
    ],
}

#: near misses that must stay quiet
QUIET = {
    "reasoning_unclosed": chat(content="The tag <think> opens and </think> closes a trace."),
    "reasoning_empty": chat(content="No."),  # no trace at all is not an empty trace
    "reasoning_without_answer": chat(
        reasoning_content="I need the rate first.",
        content=None,
        tool_calls=[
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    ),
    "think_tags_in_answer": chat(content="I think so; a trace ends with `</think>`."),
}


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_finding_triggers_on_a_real_shaped_record(code: str) -> None:
    for data, expected in CASES[code]:
        assert found(data) == expected, data


@pytest.mark.parametrize("code", sorted(CODES))
def test_each_finding_stays_quiet_on_its_near_miss(code: str) -> None:
    assert code not in {c for c, _ in found(QUIET[code])}
    assert found(GOOD) == []


def test_findings_say_how_to_fix_and_have_stable_severities() -> None:
    ex = Example(chat(content="<think>91 = 7 * 13.</think>No."), Location("r.jsonl", 7))
    (f,) = Reasoning().check(ex)
    assert f.severity == Severity.WARNING and "curate ingest" in (f.hint or "")
    assert str(f.location.file) == "r.jsonl" and f.location.line == 7
    assert {c: s for c, (s, _) in CODES.items()} == {
        "reasoning_unclosed": Severity.ERROR,
        "reasoning_empty": Severity.WARNING,
        "reasoning_without_answer": Severity.ERROR,
        "think_tags_in_answer": Severity.WARNING,
    }


@pytest.mark.parametrize(
    ("content", "ingest_fixes_it"),
    [
        ("<think>91 = 7 * 13.</think>No.", True),
        ("<thinking>91 = 7 * 13.</thinking>No.", True),
        ("91 = 7 * 13.\n</think>\n\nNo.", True),  # DeepSeek-R1
        ("91 = 7 * 13.</think>No.</think>", False),  # ambiguous: ingest rejects it
        ("No. <think>aside</think>", False),  # not a leading block
    ],
)
def test_think_tags_hint_names_curate_ingest_only_when_it_splits(
    content: str, ingest_fixes_it: bool
) -> None:
    (f,) = Reasoning().check(Example(chat(content=content), Location("r.jsonl", 7)))
    assert f.code == "think_tags_in_answer"
    assert ("curate ingest" in (f.hint or "")) is ingest_fixes_it


def test_only_assistant_messages_are_read_and_the_index_is_the_message() -> None:
    data = {
        "messages": [
            {"role": "system", "content": "Reply after <think>"},
            Q,
            {"role": "assistant", "content": "No."},
            {"role": "user", "content": "Why?"},
            {"role": "assistant", "content": "<think>"},
        ]
    }
    assert found(data) == [("reasoning_unclosed", 4)]


def test_preference_outputs_are_checked() -> None:
    data = {
        "input": {"messages": [Q]},
        "preferred_output": [{"role": "assistant", "content": "No."}],
        "non_preferred_output": [{"role": "assistant", "content": "<think>91 is"}],
    }
    assert found(data) == [("reasoning_unclosed", None)]


def test_not_a_chat_record_is_left_to_the_format_check() -> None:
    assert found(["not", "an", "object"]) == [] and found({"messages": "x"}) == []


# -- the format check and registration -----------------------------------------------------


def format_codes(data: Any, target: str) -> list[str]:
    ex = Example(data, Location("r.jsonl", 1))
    return [f.code for f in OpenAIFormat(target=target).check(ex)]


def test_reasoning_content_is_known_to_curate_and_refused_by_openai() -> None:
    assert format_codes(GOOD, "curate") == []
    strict = [f for f in OpenAIFormat(target="openai").check(Example(GOOD, Location("r.jsonl", 1)))]
    assert [(f.code, f.severity) for f in strict] == [("message_unrecognized_key", Severity.ERROR)]
    assert "no reasoning field" in (strict[0].hint or "")
    # on another role it is not the canonical trace: still unrecognized
    user = {"messages": [{**Q, "reasoning_content": "x"}, {"role": "assistant", "content": "No"}]}
    assert format_codes(user, "curate") == ["message_unrecognized_key"]


def test_reasoning_runs_with_the_standard_validators() -> None:
    validators, _ = standard_validators(content=False, duplicates="none")
    assert [v.name for v in validators] == ["reasoning", "tools"]


def test_statistics_count_reasoning_apart_from_the_answer() -> None:
    from curate.stats import stats_rows

    answer_only = {"messages": [Q, {"role": "assistant", "content": "No: 91 = 7 × 13."}]}
    rows = stats_rows(
        [Example(GOOD, Location("r.jsonl", 1)), Example(answer_only, Location("r.jsonl", 2))],
        model="gpt-4o-mini",
    )
    traced, plain = rows
    assert traced["chars_reasoning"] == len("91 = 7 * 13.") and traced["tokens_reasoning"] > 0
    assert plain["chars_reasoning"] == plain["tokens_reasoning"] == 0
    # the answer's tokens are the same with or without a trace; the total holds both
    assert traced["tokens_assistant"] == plain["tokens_assistant"]
    assert traced["tokens_total"] == plain["tokens_total"] + traced["tokens_reasoning"]
