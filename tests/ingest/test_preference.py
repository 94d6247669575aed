from __future__ import annotations

import json

from tests.ingest.helpers import FIXTURES, reasons, run


def test_trl_standard_preference_with_blank_line_and_no_final_newline() -> None:
    good, bad = run(FIXTURES / "preference" / "trl_standard.jsonl")
    assert bad == []
    assert [g["source"]["line"] for g in good] == [1, 3, 4]
    first = json.loads((FIXTURES / "preference" / "trl_standard.jsonl").read_text().splitlines()[0])
    assert good[0]["input"] == {"messages": [{"role": "user", "content": first["prompt"]}]}
    assert good[0]["preferred_output"] == [{"role": "assistant", "content": first["chosen"]}]
    assert good[0]["non_preferred_output"] == [{"role": "assistant", "content": first["rejected"]}]


def test_conversational_and_implicit_prompt_give_the_same_example() -> None:
    explicit, _ = run(FIXTURES / "preference" / "trl_conversational.jsonl")
    implicit, bad = run(FIXTURES / "preference" / "implicit.jsonl")
    assert bad == []
    assert implicit[0]["input"] == {
        "messages": [{"role": "user", "content": "What color is the sky?"}]
    }
    assert implicit[0]["id"] == explicit[0]["id"]


def test_orca_style_question_and_system_columns() -> None:
    good, bad = run(FIXTURES / "preference" / "orca_style.jsonl")
    assert bad == []
    assert good[0]["input"]["messages"] == [
        {"role": "system", "content": "You are an AI assistant. Answer briefly."},
        {"role": "user", "content": "Is a tomato a fruit?"},
    ]


def test_preference_bad_rows() -> None:
    good, bad = run(FIXTURES / "preference" / "bad.jsonl")
    assert len(good) == 1
    assert reasons(bad) == [(2, "no_prompt"), (3, "no_prompt"), (4, "missing_field")]
    assert bad[1].message == (
        'chosen and rejected share no leading turns, so there is no prompt; add a "prompt" field'
    )


def test_openai_dpo_round_trips_unchanged() -> None:
    good, bad = run(FIXTURES / "openai_dpo" / "good.jsonl")
    assert bad == []
    src = [json.loads(x) for x in (FIXTURES / "openai_dpo" / "good.jsonl").read_text().splitlines()]
    for out, original in zip(good, src, strict=True):
        assert {k: v for k, v in out.items() if k not in ("id", "source")} == original


def test_openai_dpo_bad_rows() -> None:
    good, bad = run(FIXTURES / "openai_dpo" / "bad.jsonl")
    assert len(good) == 1
    assert reasons(bad) == [(2, "wrong_type"), (3, "wrong_type")]
    assert bad[0].message == 'field "input" is a JSON string, expected an object'
