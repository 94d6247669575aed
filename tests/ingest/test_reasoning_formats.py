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


#: Sky-T1 / Bespoke-Stratos / OpenThoughts (v1) shape: a system prompt asking for
#: "Thought and Solution" sections, ShareGPT turns with user/assistant roles
SYSTEM = (
    "Your role as an assistant involves thoroughly exploring questions ... Thought and Solution."
)


def thoughts(value: str) -> dict[str, Any]:
    return {
        "system": SYSTEM,
        "conversations": [
            {"from": "user", "value": "Return your final response within \\boxed{}. What is 5*5?"},
            {"from": "assistant", "value": value},
        ],
    }


def test_openthoughts_markers_become_reasoning_content(tmp_path: Path) -> None:
    value = (
        "<|begin_of_thought|>\n\n5 times 5 is 25.\n\n<|end_of_thought|>\n\n"
        "<|begin_of_solution|>\n\nThe answer is \\boxed{25}.\n\n<|end_of_solution|>"
    )
    good, bad = run(write(tmp_path, thoughts(value)))
    assert bad == []
    assert good[0]["messages"][0] == {"role": "system", "content": SYSTEM}
    assert good[0]["messages"][-1] == {
        "role": "assistant",
        "content": "The answer is \\boxed{25}.",
        "reasoning_content": "5 times 5 is 25.",
    }
    # without the solution wrapper the answer is the text after the trace
    good, _ = run(write(tmp_path, thoughts("<|begin_of_thought|>a<|end_of_thought|>\n\n25")))
    assert good[0]["messages"][-1]["content"] == "25"


@pytest.mark.parametrize(
    "value",
    [
        "<|begin_of_thought|>\n\n5 times 5 is",  # cut off inside the trace
        "<|begin_of_thought|>a<|end_of_thought|><|begin_of_solution|>25",  # unclosed solution
        "<|begin_of_thought|>a<|end_of_thought|><|begin_of_solution|>25<|end_of_solution|> PS",
        "<|begin_of_thought|>a<|end_of_thought|>b<|begin_of_thought|>c<|end_of_thought|>",
    ],
    ids=["unclosed_trace", "unclosed_solution", "text_after_solution", "two_traces"],
)
def test_broken_markers_are_rejected(tmp_path: Path, value: str) -> None:
    good, bad = run(write(tmp_path, thoughts(value)))
    assert good == [] and [r.reason for r in bad] == ["bad_reasoning"]
