from __future__ import annotations

from tests.ingest.helpers import FIXTURES, reasons, roles, run


def test_openai_legacy_pairs_are_kept_verbatim() -> None:
    good, bad = run(FIXTURES / "prompt_completion" / "openai_legacy.jsonl")
    assert bad == []
    assert good[0]["messages"][1] == {"role": "assistant", "content": " yes"}
    assert good[2]["messages"][0]["content"].endswith("\n\n###\n\n")
    assert {g["source"]["format"] for g in good} == {"prompt_completion"}


def test_trl_conversational_prompt_assistant_turns_get_weight_zero() -> None:
    good, bad = run(FIXTURES / "prompt_completion" / "trl_conversational.jsonl")
    assert bad == []
    assert good[0]["messages"] == [
        {"role": "user", "content": "What color is the sky?"},
        {"role": "assistant", "content": "It is blue."},
    ]
    assert roles(good[1]) == ["system", "user", "assistant", "user", "assistant"]
    assert good[1]["messages"][2] == {"role": "assistant", "content": "4", "weight": 0}
    assert "weight" not in good[1]["messages"][4]


def test_prompt_completion_bad_rows() -> None:
    good, bad = run(FIXTURES / "prompt_completion" / "bad.jsonl")
    assert len(good) == 1
    assert reasons(bad) == [
        (2, "empty_field"),
        (3, "missing_field"),
        (4, "unknown_role"),
        (5, "missing_field"),
    ]
    assert bad[0].message == 'field "prompt" is empty'
    assert bad[1].message == 'field "completion" is missing or null'
