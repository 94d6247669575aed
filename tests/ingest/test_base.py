from __future__ import annotations

import pytest

from curate.ingest import base
from curate.ingest.base import (
    REASONS,
    BaseIngestor,
    IngestOptions,
    Reject,
    get,
    names,
    register,
    text_field,
    to_messages,
)
from curate.records import InputError


def test_builtin_formats_are_registered() -> None:
    assert names() == [
        "alpaca",
        "columns",
        "dolly",
        "llamafactory",
        "llamafactory_preference",
        "openai",
        "openai_dpo",
        "preference",
        "prompt_completion",
        "sharegpt",
        "sharegpt_preference",
        "text",
    ]


def test_registering_a_name_twice_raises() -> None:
    with pytest.raises(ValueError, match="ingest format 'alpaca' is already registered"):

        @register("alpaca")
        class Again(BaseIngestor):
            required = frozenset({"x"})


def test_a_new_format_is_one_small_class() -> None:
    @register("test_qa_pairs")
    class QA(BaseIngestor):
        required = frozenset({"q", "a"})

        def convert(self, record: dict, options: IngestOptions) -> dict:
            return {
                "messages": [
                    {"role": "user", "content": text_field(record, "q")},
                    {"role": "assistant", "content": text_field(record, "a")},
                ]
            }

    try:
        assert get("test_qa_pairs").convert({"q": "1+1?", "a": 2}, IngestOptions()) == {
            "messages": [
                {"role": "user", "content": "1+1?"},
                {"role": "assistant", "content": "2"},
            ]
        }
    finally:
        del base.REGISTRY["test_qa_pairs"]


def test_unknown_format_lists_the_valid_names() -> None:
    with pytest.raises(InputError) as e:
        get("alpacca")
    assert str(e.value) == (
        "unknown format 'alpacca'; choose one of: alpaca, columns, dolly, llamafactory, "
        "llamafactory_preference, openai, openai_dpo, preference, prompt_completion, sharegpt, "
        "sharegpt_preference, text"
    )


def test_reject_reasons_are_a_closed_list() -> None:
    with pytest.raises(ValueError, match="unknown reject reason 'oops'"):
        Reject("oops", "x")
    assert Reject("empty_field", "m").reason == "empty_field"
    assert all(code == code.lower() and " " not in code for code in REASONS)


def test_text_field_checks_presence_type_and_emptiness() -> None:
    with pytest.raises(Reject) as e:
        text_field({"a": 1}, "b")
    assert (e.value.reason, e.value.message) == ("missing_field", 'field "b" is missing (have: a)')
    with pytest.raises(Reject) as e:
        text_field({"b": {"x": 1}}, "b")
    assert (e.value.reason, e.value.message) == (
        "wrong_type",
        'field "b" is a JSON object, expected a string',
    )
    with pytest.raises(Reject) as e:
        text_field({"b": " \n"}, "b")
    assert e.value.reason == "empty_field"
    assert text_field({"b": 3.5}, "b") == "3.5"
    assert text_field({"b": None}, "b", allow_empty=True) == ""


def test_to_messages_wraps_strings_and_checks_lists() -> None:
    assert to_messages("hi", "prompt", "user") == [{"role": "user", "content": "hi"}]
    with pytest.raises(Reject) as e:
        to_messages([{"role": "robot", "content": "x"}], "chosen", "assistant")
    assert e.value.reason == "unknown_role"
    assert e.value.message.startswith("chosen[0] has role 'robot'; expected one of assistant")
    with pytest.raises(Reject) as e:
        to_messages([], "chosen", "assistant")
    assert (e.value.reason, e.value.message) == ("empty_field", 'field "chosen" is an empty list')
