from __future__ import annotations

import json

from curate.validate import validate_path
from tests.ingest.helpers import FIXTURES, reasons, run


def test_openai_chat_round_trips_tools_tool_calls_and_weight(tmp_path) -> None:
    src = FIXTURES / "openai_chat" / "tools.jsonl"
    good, bad = run(src)
    assert bad == []
    originals = [json.loads(x) for x in src.read_text().splitlines()]
    for out, original in zip(good, originals, strict=True):
        assert {k: v for k, v in out.items() if k not in ("id", "source")} == original
    out = tmp_path / "out.jsonl"
    out.write_text("".join(json.dumps(g) + "\n" for g in good))
    report = validate_path([out], workers=1)
    assert report.total.severity_counts.get("error", 0) == 0


def test_cookbook_toy_file_round_trips() -> None:
    good, bad = run(FIXTURES / "openai" / "cookbook_toy.jsonl")
    assert bad == []
    assert all(g["source"]["format"] == "openai" for g in good)


def test_openai_bad_rows() -> None:
    good, bad = run(FIXTURES / "openai_chat" / "bad.jsonl")
    assert len(good) == 1
    assert reasons(bad) == [
        (2, "invalid_json"),
        (3, "wrong_type"),
        (4, "not_an_object"),
        (5, "wrong_type"),
    ]
    assert bad[0].record.startswith('{"messages": [{"role": "user"')
    assert bad[3].message == "messages[1] is a JSON string, expected an object"


def test_parquet_chat_drops_arrow_nulls() -> None:
    good, bad = run(FIXTURES / "openai_chat" / "chat.parquet")
    assert bad == []
    assert good[0]["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ]
    assert good[1]["source"] == {
        "file": str(FIXTURES / "openai_chat" / "chat.parquet"),
        "row": 2,
        "format": "openai",
    }


def test_extra_top_level_keys_go_to_metadata_and_do_not_change_the_id(tmp_path) -> None:
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    p = tmp_path / "x.jsonl"
    p.write_text(
        json.dumps({"messages": msgs})
        + "\n"
        + json.dumps({"messages": msgs, "prompt_id": "a1"})
        + "\n"
    )
    good, _ = run(p)
    assert good[1]["metadata"] == {"prompt_id": "a1"}
    assert good[0]["id"] == good[1]["id"]
