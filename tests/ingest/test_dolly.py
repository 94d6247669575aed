from __future__ import annotations

from tests.ingest.helpers import FIXTURES, reasons, run


def test_dolly_context_joins_the_instruction_and_category_goes_to_metadata() -> None:
    good, bad = run(FIXTURES / "dolly" / "good.jsonl")
    assert bad == []
    assert good[0]["messages"][0]["content"].startswith(
        "When did Virgin Australia start operating?\nVirgin Australia, the trading name"
    )
    assert good[0]["metadata"] == {"category": "closed_qa"}
    assert good[1]["messages"] == [
        {"role": "user", "content": "Which is a species of fish? Tope or Rope"},
        {"role": "assistant", "content": "Tope"},
    ]
    assert {g["source"]["format"] for g in good} == {"dolly"}


def test_dolly_bad_rows() -> None:
    good, bad = run(FIXTURES / "dolly" / "bad.jsonl")
    assert [g["source"]["line"] for g in good] == [1, 4]
    assert good[1]["messages"][1]["content"] == "17"  # numbers become text
    assert reasons(bad) == [(2, "empty_field"), (3, "wrong_type")]
    assert bad[0].message == 'field "response" is null'
    assert bad[1].message == 'field "instruction" is a JSON array, expected a string'
