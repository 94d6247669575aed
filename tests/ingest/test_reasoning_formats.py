"""A leading thinking block is split into ``reasoning_content`` whatever the input format
(not only OpenAI chat, ShareGPT and LLaMA-Factory): distilled data also comes as Alpaca,
prompt/completion pairs and tables (Nemotron's ``input`` messages + ``output`` text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ingest.helpers import run

ANSWER = {"role": "assistant", "content": "25", "reasoning_content": "5 times 5 is 25."}


def write(tmp_path: Path, record: dict[str, Any]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("record", "kw"),
    [
        (
            {
                "instruction": "What is 5*5?",
                "input": "",
                "output": "<think>\n5 times 5 is 25.\n</think>\n\n25",
            },
            {},
        ),
        ({"prompt": "What is 5*5?", "completion": "<think>5 times 5 is 25.</think>25"}, {}),
        ({"prompt": "What is 5*5?", "completion": "5 times 5 is 25.\n</think>\n\n25"}, {}),
        (
            {
                "input": [{"role": "user", "content": "What is 5*5?"}],
                "output": "<think>\n5 times 5 is 25.\n</think>\n\n25",
                "reasoning": "on",
            },
            {"format": "columns", "maps": {"user": "input", "assistant": "output"}},
        ),
    ],
    ids=["alpaca", "prompt_completion", "r1_closing_tag_only", "columns_with_message_list"],
)
def test_trace_split_in_every_format(
    tmp_path: Path, record: dict[str, Any], kw: dict[str, Any]
) -> None:
    good, bad = run(write(tmp_path, record), **kw)
    assert bad == []
    assert good[0]["messages"][-1] == ANSWER
    assert good[0]["messages"][-2] == {"role": "user", "content": "What is 5*5?"}


def test_unclosed_trace_in_alpaca_is_a_reject(tmp_path: Path) -> None:
    rec = {"instruction": "What is 5*5?", "output": "<think>\n5 times 5 is"}
    good, bad = run(write(tmp_path, rec))
    assert good == [] and [r.reason for r in bad] == ["bad_reasoning"]


def test_plain_answers_are_left_alone(tmp_path: Path) -> None:
    rec = {"instruction": "Name a tag.", "output": "HTML has <b> and <i>; <think> is not one."}
    good, bad = run(write(tmp_path, rec))
    assert bad == [] and good[0]["messages"][-1] == {
        "role": "assistant",
        "content": "HTML has <b> and <i>; <think> is not one.",
    }
