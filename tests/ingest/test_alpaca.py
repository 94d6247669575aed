from __future__ import annotations

import json

from curate.ingest import get
from tests.ingest.helpers import FIXTURES, OPTS, reasons, roles, run


def test_alpaca_json_array_converts_every_record() -> None:
    good, bad = run(FIXTURES / "alpaca" / "good.json")
    assert bad == []
    assert [g["source"] for g in good] == [
        {"file": str(FIXTURES / "alpaca" / "good.json"), "row": i, "format": "alpaca"}
        for i in range(1, 6)
    ]
    first = json.loads((FIXTURES / "alpaca" / "good.json").read_text())[0]
    assert good[0]["messages"] == [
        {"role": "user", "content": first["instruction"]},
        {"role": "assistant", "content": first["output"]},
    ]
    # system first, then the history pairs, then the instruction
    assert roles(good[3]) == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert good[3]["messages"][1]["content"] == "Hi there"
    assert good[4]["messages"][0]["content"] == "把下面的句子翻译成英文。\n今天天气很好。"


def test_alpaca_jsonl_gives_the_same_ids_as_the_json_array() -> None:
    arr, _ = run(FIXTURES / "alpaca" / "good.json")
    jl, _ = run(FIXTURES / "alpaca" / "good.jsonl")
    assert [r["id"] for r in jl] == [r["id"] for r in arr[:3]]
    assert [r["source"]["line"] for r in jl] == [1, 2, 3]


def test_alpaca_bad_rows_are_rejected_with_reasons_and_the_rest_kept() -> None:
    good, bad = run(FIXTURES / "alpaca" / "bad.json")
    assert [g["source"]["row"] for g in good] == [1, 8]
    assert reasons(bad) == [
        (2, "invalid_json"),
        (3, "missing_field"),
        (4, "empty_field"),
        (5, "wrong_type"),
        (6, "not_an_object"),
        (7, "empty_field"),
    ]
    assert bad[1].message == 'field "output" is missing (have: input, instruction)'
    assert bad[1].record == {"instruction": "Give a synonym for happy.", "input": ""}
    assert bad[0].record.startswith('{"instruction": "Summarize the text."')
    assert bad[5].message == 'fields "instruction" and "input" are both empty'


def test_truncated_array_keeps_what_came_before() -> None:
    good, bad = run(FIXTURES / "alpaca" / "truncated.json")
    assert [g["messages"][1]["content"] for g in good] == ["Hi!"]
    assert reasons(bad) == [(2, "invalid_json")]
    assert "rest of the file" in bad[0].message


def test_alpaca_history_and_extra_keys() -> None:
    rec = {
        "instruction": "Go on",
        "input": "",
        "output": "ok",
        "history": [["a", "b"]],
        "lang": "en",
    }
    out = get("alpaca").convert(rec, OPTS)
    assert out == {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "Go on"},
            {"role": "assistant", "content": "ok"},
        ],
        "metadata": {"lang": "en"},
    }
