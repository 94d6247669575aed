"""A `curate split --format trl` export of tool-use data renders with a real chat template
(Qwen3's, built offline): a tool-call turn without text is written with ``content: ""``,
because the template tests the content as text and fails on ``null``."""

from __future__ import annotations

import json
from pathlib import Path

from curate.split import SplitOptions, split_path

CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "search_recipes", "arguments": '{"ingredients": ["rice"]}'},
}


def conversation(i: int) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"A recipe with rice, number {i}?"},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"recipes": ["Fried rice"]}'},
            {"role": "assistant", "content": f"Try fried rice ({i})."},
        ]
    }


def test_trl_export_of_tool_calls_renders_with_qwen3(
    tmp_path: Path, tok_dirs: dict[str, Path]
) -> None:
    from transformers import AutoTokenizer

    src = tmp_path / "tools.jsonl"
    src.write_text("".join(json.dumps(conversation(i)) + "\n" for i in range(4)))
    split_path(str(src), tmp_path / "out", SplitOptions(format="trl", eval_size=1))
    rows = [
        json.loads(line)
        for name in ("train.jsonl", "eval.jsonl")
        for line in (tmp_path / "out" / name).read_text().splitlines()
    ]
    assert len(rows) == 4
    tok = AutoTokenizer.from_pretrained(str(tok_dirs["qwen3"]))
    for row in rows:
        assert row["messages"][1]["content"] == ""
        text = tok.apply_chat_template(row["messages"], tokenize=False)
        assert '"name": "search_recipes"' in text and "Try fried rice" in text
