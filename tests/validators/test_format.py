from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.io import read_jsonl
from curate.records import Example, Location, Severity
from curate.validators.format import OpenAIFormat, _plain_conversation
from tests.reference import cookbook


def check(data: Any, target: str = "curate") -> list[tuple[str, int | None]]:
    ex = Example(data, Location("t.jsonl", 1))
    return [(f.code, f.location.message_index) for f in OpenAIFormat(target=target).check(ex)]


def cookbook_codes(data: Any) -> Counter[str]:
    c = Counter(code for code, _ in check(data))
    return Counter({k: v for k, v in c.items() if k in COOKBOOK})


COOKBOOK = {
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
}


def test_valid_chat_has_no_findings(fixtures: Path) -> None:
    for r in read_jsonl(fixtures / "openai/good.jsonl"):
        assert isinstance(r, Example)
        assert list(OpenAIFormat().check(r)) == [], r.source


def test_not_an_object_counts_data_type_only() -> None:
    assert check(["a"]) == [("data_type", None)]
    assert check("text") == [("data_type", None)]


@pytest.mark.parametrize("data", [{}, {"messages": []}, {"messages": None}, {"prompt": "x"}])
def test_missing_messages_counts_that_only(data: dict[str, Any]) -> None:
    assert check(data) == [("missing_messages_list", None)]


def test_message_checks_in_cookbook_order() -> None:
    data = {"messages": [{"role": "bot", "text": "hi"}, {"role": "assistant", "content": "x"}]}
    assert check(data) == [
        ("message_missing_key", 0),
        ("message_unrecognized_key", 0),
        ("unrecognized_role", 0),
        ("missing_content", 0),
    ]


def test_unrecognized_key_counted_once_per_message() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "a", "x": 1, "y": 2},
            {"role": "assistant", "content": "b"},
        ]
    }
    assert check(data) == [("message_unrecognized_key", 0)]


def test_function_call_allows_empty_content_but_not_null() -> None:
    fc = {"name": "f", "arguments": "{}"}
    ok = {
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": "", "function_call": fc},
        ]
    }
    assert check(ok) == []
    null = {
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "function_call": fc},
        ]
    }
    assert check(null) == [("missing_content", 1)]


def test_tool_calls_allow_null_content_and_tool_role() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
        ],
        "tools": [{"type": "function", "function": {"name": "w", "parameters": {}}}],
    }
    assert check(data) == []


def test_tool_call_problems() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
    data = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
        ],
        "tools": [{"type": "function", "function": {"name": "other"}}],
    }
    assert check(data) == [
        ("unknown_tool", 1),
        ("tool_call_id_mismatch", 2),
        ("tool_call_unanswered", 1),  # the reply at message 3 goes on without an answer
    ]
    bad_args = {
        "messages": [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "w", "arguments": {"a": 1}},
                    }
                ],
            },
            {"role": "assistant", "content": "done"},
        ]
    }
    assert ("invalid_tool_calls", 1) in check(bad_args)


def test_weight_rules() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "q", "weight": 1},
            {"role": "assistant", "content": "a", "weight": 0.5},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a2", "weight": True},
        ]
    }
    assert check(data) == [("invalid_weight", 0), ("invalid_weight", 1), ("invalid_weight", 3)]


def test_order_whitespace_and_special_tokens() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "system", "content": "s"},
            {"role": "user", "content": "<|im_start|>b"},
            {"role": "assistant", "content": " \n\t"},
        ]
    }
    assert check(data) == [
        ("system_not_first", 1),
        ("special_token_in_text", 2),
        ("whitespace_only_content", 3),
    ]
    ends_with_user = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ]
    }
    assert check(ends_with_user) == [("last_not_assistant", 2)]


def test_top_level_keys_depend_on_target() -> None:
    data = {
        "id": "x",
        "source": {"file": "a"},
        "split": "train",
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
    }
    assert check(data) == [("unrecognized_top_level_key", None)]
    (f,) = OpenAIFormat(target="openai").check(Example(data, Location("t.jsonl", 1)))
    assert f.severity is Severity.ERROR and "'id', 'source', 'split'" in f.message
    with pytest.raises(ValueError, match="unknown target"):
        OpenAIFormat(target="anthropic")


def test_every_finding_says_how_to_fix(fixtures: Path) -> None:
    for name in ("cookbook_errors.jsonl", "tools_and_extras_bad.jsonl"):
        for r in read_jsonl(fixtures / "openai" / name):
            assert isinstance(r, Example)
            for f in OpenAIFormat().check(r):
                assert f.hint and f.message and f.location.line == r.source.line


def test_cookbook_counts_on_error_fixture(fixtures: Path) -> None:
    path = fixtures / "openai/cookbook_errors.jsonl"
    ours: Counter[str] = Counter()
    for r in read_jsonl(path):
        assert isinstance(r, Example)
        ours += cookbook_codes(r.data)
    assert dict(ours) == cookbook.format_errors(cookbook.load(str(path)))
    assert dict(ours) == {
        "data_type": 1,
        "missing_messages_list": 2,
        "message_missing_key": 1,
        "message_unrecognized_key": 1,
        "unrecognized_role": 1,
        "missing_content": 3,
        "example_missing_assistant_message": 1,
    }


def test_preference_records() -> None:
    good = {
        "input": {"messages": [{"role": "user", "content": "Best color?"}]},
        "preferred_output": [{"role": "assistant", "content": "Blue."}],
        "non_preferred_output": [{"role": "assistant", "content": "Dunno."}],
    }
    assert check(good) == []
    bad = {
        "input": {"messages": [{"role": "human", "content": "x"}]},
        "preferred_output": [
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": "b"},
        ],
        "non_preferred_output": [{"role": "assistant", "content": "  "}],
        "chosen": "x",
    }
    assert check(bad) == [
        ("unrecognized_top_level_key", None),
        ("unrecognized_role", 0),
        ("invalid_preference_output", None),
        ("missing_content", None),
    ]
    assert check({"input": {}, "preferred_output": [], "non_preferred_output": []}) == [
        ("invalid_preference_input", None),
        ("invalid_preference_output", None),
        ("invalid_preference_output", None),
    ]


_ROLE = st.sampled_from(["system", "user", "assistant", "tool", "function", "bot", None, 1])
_CONTENT = st.one_of(
    st.sampled_from(["hi", "", "  ", "\n", "a <|im_end|> b", "<|x", "ok "]),
    st.text(max_size=5),
    st.none(),
    st.integers(),
    st.lists(st.just({"type": "text", "text": "x"}), max_size=1),
)
_MESSAGE = st.one_of(
    st.fixed_dictionaries({"role": _ROLE, "content": _CONTENT}),
    st.fixed_dictionaries(
        {"role": _ROLE, "content": _CONTENT},
        optional={"name": st.just("n"), "weight": st.sampled_from([0, 1, 2]), "x": st.just(1)},
    ),
    st.sampled_from(["text", None, 3]),
)


@st.composite
def _near_plain(draw: st.DrawFn) -> list[Any]:
    """An alternating conversation (often plain), with up to two messages replaced by
    random ones or edited, so the fast path's boundary is crossed both ways."""
    n = draw(st.integers(1, 4))
    msgs: list[Any] = [{"role": "system", "content": "be brief"}] if draw(st.booleans()) else []
    for _ in range(n):
        msgs += [{"role": "user", "content": "q?"}, {"role": "assistant", "content": "a."}]
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(msgs) - 1))
        msgs[i] = draw(_MESSAGE)
    if draw(st.booleans()):
        msgs = msgs[: draw(st.integers(1, len(msgs)))]
    return msgs


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.lists(_MESSAGE, min_size=1, max_size=6), _near_plain()))
def test_fast_path_only_skips_conversations_with_no_findings(messages: list[Any]) -> None:
    # check() skips the per-message checks when _plain_conversation() says they would
    # find nothing; hold it to that on random conversations
    fmt = OpenAIFormat()
    full = list(fmt._messages({"messages": messages}, messages, Location("t.jsonl", 1)))
    if _plain_conversation(messages):
        assert full == []
    ex = Example({"messages": messages}, Location("t.jsonl", 1))
    assert [f.code for f in fmt.check(ex)] == [f.code for f in full]


_TOP_EXTRAS = st.dictionaries(
    st.sampled_from(
        ["tools", "parallel_tool_calls", "functions", "id", "source", "metadata", "x", "input"]
    ),
    st.one_of(st.just("v"), st.just(True), st.just([]), st.just({"a": 1})),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(_near_plain(), _TOP_EXTRAS, st.sampled_from(["curate", "openai"]))
def test_early_return_gives_what_the_full_checks_give(
    messages: list[Any], extras: dict[str, Any], target: str
) -> None:
    # check() returns at once for a plain conversation whose top-level keys need no check;
    # every other record goes through _top_level and _messages
    fmt = OpenAIFormat(target=target)
    data = {"messages": messages, **extras}
    loc = Location("t.jsonl", 1)
    full = [*fmt._top_level(data, loc), *fmt._messages(data, messages, loc)]
    assert [(f.code, f.message) for f in fmt.check(Example(data, loc))] == [
        (f.code, f.message) for f in full
    ]


# -- issue 22, item 11: an unanswered tool call before the conversation goes on --------------


def _call(cid: str) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": "w", "arguments": "{}"}}


def _findings(data: Any, target: str) -> list[tuple[str, Severity, int | None, str]]:
    ex = Example(data, Location("t.jsonl", 1))
    return [
        (f.code, f.severity, f.location.message_index, f.message)
        for f in OpenAIFormat(target=target).check(ex)
    ]


def test_unanswered_tool_call_before_the_conversation_goes_on() -> None:
    data = {
        "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {"role": "assistant", "content": None, "tool_calls": [_call("c1"), _call("c2")]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "assistant", "content": "Paris is sunny."},  # c2 never answered
        ]
    }
    ((code, sev, where, msg),) = _findings(data, "openai")
    assert (code, sev, where) == ("tool_call_unanswered", Severity.ERROR, 1)
    assert "'c2'" in msg and "before message 3 goes on" in msg and "OpenAI refuses" in msg
    ((code, sev, where, _),) = _findings(data, "curate")
    assert (code, sev, where) == ("tool_call_unanswered", Severity.WARNING, 1)
    # a user turn going on counts the same
    data["messages"][2:] = [{"role": "user", "content": "never mind"}]
    got = [(c, s) for c, s, _, _ in _findings(data, "openai") if c == "tool_call_unanswered"]
    assert got == [("tool_call_unanswered", Severity.ERROR)] * 2


def test_a_final_unanswered_tool_call_is_the_training_target() -> None:
    final = {
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [_call("c1")]},
        ]
    }
    assert _findings(final, "openai") == []
    assert _findings(final, "curate") == []
    # answered calls, then a final call: still valid
    final["messages"][2:] = [
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "Sunny. Checking Rome too."},
        {"role": "user", "content": "ok"},
        {"role": "assistant", "content": None, "tool_calls": [_call("c2")]},
    ]
    assert _findings(final, "openai") == []
