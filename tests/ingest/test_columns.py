from __future__ import annotations

import pytest

from curate.records import InputError
from tests.ingest.helpers import FIXTURES, reasons, run

QA = {"user": "question", "assistant": "answer"}


def test_csv_with_bom_crlf_quoted_newlines_and_an_empty_cell() -> None:
    good, bad = run(FIXTURES / "columns" / "qa.csv", maps=QA, system="You are a tutor.")
    assert [g["source"]["row"] for g in good] == [1, 2, 3]
    assert good[1]["messages"] == [
        {"role": "system", "content": "You are a tutor."},
        {"role": "user", "content": "Write a two-line poem, with a comma."},
        {"role": "assistant", "content": "Roses are red,\nviolets are blue."},
    ]
    assert good[0]["metadata"] == {"topic": "physics"}
    assert good[0]["source"]["format"] == "columns"
    assert reasons(bad) == [(4, "empty_field")]
    assert bad[0].message == 'field "answer" is null'


def test_tsv_with_a_system_column() -> None:
    maps = {"user": "prompt", "assistant": "response", "system": "persona"}
    good, bad = run(FIXTURES / "columns" / "qa.tsv", maps=maps)
    assert bad == []
    assert [m["role"] for m in good[0]["messages"]] == ["system", "user", "assistant"]
    assert [m["role"] for m in good[1]["messages"]] == ["user", "assistant"]  # empty persona


def test_parquet_and_jsonl_tables() -> None:
    good, bad = run(FIXTURES / "columns" / "qa.parquet", maps=QA)
    assert bad == []
    assert good[0]["messages"][1] == {"role": "assistant", "content": "Tokyo."}
    assert good[1]["metadata"] == {"difficulty": 2}
    good, bad = run(FIXTURES / "columns" / "qa.jsonl", maps=QA)
    assert bad == [] and len(good) == 2


def test_a_missing_column_names_the_columns_and_the_fix() -> None:
    with pytest.raises(InputError) as e:
        list(run(FIXTURES / "columns" / "qa.csv", maps={"user": "prompt", "assistant": "answer"}))
    assert str(e.value) == (
        f'{FIXTURES / "columns" / "qa.csv"}: column "prompt" not found (have: answer, question, '
        "topic). Pass --map user=COLUMN with one of them."
    )
    # the suggested fix works
    good, _ = run(FIXTURES / "columns" / "qa.csv", maps={"user": "question", "assistant": "answer"})
    assert len(good) == 3


def test_map_needs_user_and_assistant_and_known_targets() -> None:
    with pytest.raises(InputError, match=r"needs --map assistant=COLUMN \(have: user=question\)"):
        list(run(FIXTURES / "columns" / "qa.csv", maps={"user": "question"}))
    with pytest.raises(
        InputError, match="unknown target 'bot'; targets are system, user, assistant"
    ):
        list(run(FIXTURES / "columns" / "qa.csv", maps={"user": "q", "bot": "a"}))
    with pytest.raises(InputError, match="--map only works with the columns format"):
        list(run(FIXTURES / "columns" / "qa.csv", maps=QA, format="alpaca"))
