"""Reasoning traces and tool use through every export (issue 21): carried where the
target can hold them, a reject with a reason (or a counted drop the user asked for) where
it cannot, never a silent drop."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from curate.cli import main
from curate.export import (
    ExportError,
    axolotl_block,
    convert,
    llamafactory_entry,
    think_block,
    to_alpaca,
    to_sharegpt,
)
from curate.split import SplitOptions, split_path

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "export_media"
CHAT = FIX / "chat.jsonl"

MATH = {
    "id": "m1",
    "messages": [
        {"role": "user", "content": "What is 17 * 24?"},
        {
            "role": "assistant",
            "reasoning_content": "17 * 20 = 340 and 17 * 4 = 68, so 408.",
            "content": "408",
        },
    ],
}
TOOL = json.loads(CHAT.read_text(encoding="utf-8").splitlines()[2])  # tool-1


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


# -- converters ----------------------------------------------------------------------------


def test_trl_and_hf_keep_reasoning_content_beside_the_answer() -> None:
    stats: Counter[str] = Counter()
    out = convert(MATH, "trl", stats=stats)
    assert out["messages"][1] == {
        "role": "assistant",
        "content": "408",
        "reasoning_content": "17 * 20 = 340 and 17 * 4 = 68, so 408.",
    }
    assert stats["reasoning_field"] == 1
    hf = convert(MATH, "hf", record_id="m1")
    assert hf["messages"][1]["reasoning_content"] == MATH["messages"][1]["reasoning_content"]
    # the tool record: calls, results, tools and both traces all kept
    t = convert(TOOL, "trl")
    assert t["tools"] == TOOL["tools"]
    assert t["messages"][1]["tool_calls"] == TOOL["messages"][1]["tool_calls"]
    assert t["messages"][1]["reasoning_content"] == "I need the current weather in Paris."
    assert t["messages"][2]["tool_call_id"] == "call_1"


def test_openai_cannot_carry_reasoning_so_it_rejects_unless_told() -> None:
    with pytest.raises(ExportError) as e:
        convert(MATH, "openai")
    assert e.value.reason == "cannot_carry_reasoning"
    assert "--reasoning inline" in str(e.value) and "--reasoning drop" in str(e.value)
    stats: Counter[str] = Counter()
    dropped = convert(MATH, "openai", reasoning="drop", stats=stats)
    assert dropped["messages"][1] == {"role": "assistant", "content": "408"}
    assert stats["reasoning_dropped"] == 1  # counted: the manifest says so
    inline = convert(MATH, "openai", reasoning="inline")
    assert inline["messages"][1]["content"] == (
        "<think>\n17 * 20 = 340 and 17 * 4 = 68, so 408.\n</think>\n\n408"
    )
    # a record without a trace is not affected, and an empty trace carries nothing
    plain = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    }
    assert convert(plain, "openai") == plain
    empty = {"messages": [plain["messages"][0], {**plain["messages"][1], "reasoning_content": ""}]}
    assert convert(empty, "openai") == plain


def test_sharegpt_and_alpaca_write_the_trace_as_a_think_block() -> None:
    sg = to_sharegpt(MATH)
    assert sg["conversations"][1] == {
        "from": "gpt",
        "value": "<think>\n17 * 20 = 340 and 17 * 4 = 68, so 408.\n</think>\n\n408",
    }
    # a tool call with a trace: LLaMA-Factory's FunctionFormatter strips the thought
    # (its thought_words) before it parses the JSON call
    t = to_sharegpt(TOOL)
    call = t["conversations"][1]
    assert call["from"] == "function_call"
    head, _, js = call["value"].partition("\n</think>\n\n")
    assert head == "<think>\nI need the current weather in Paris."
    assert json.loads(js) == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert json.loads(t["tools"])[0]["function"]["name"] == "get_weather"
    # alpaca: the output and the history pairs carry their traces
    two = json.loads(CHAT.read_text(encoding="utf-8").splitlines()[1])  # reason-2
    al = to_alpaca(two)
    assert al["output"] == think_block(two["messages"][4]["reasoning_content"], "Yes, 97 is prime.")
    assert al["history"][0][1].startswith("<think>\n91 = 7 * 13")
    assert al["system"] == "Answer briefly."
    with pytest.raises(ExportError) as e:
        convert(MATH, "sharegpt", reasoning="reject")
    assert e.value.reason == "cannot_carry_reasoning"


def test_what_llamafactory_cannot_hold_is_rejected_with_a_reason() -> None:
    both = json.loads(json.dumps(TOOL))
    both["messages"][1]["content"] = "Let me check."
    with pytest.raises(ExportError) as e:
        to_sharegpt(both)
    assert e.value.reason == "tool_call_with_text"
    on_user = {"messages": [{"role": "user", "content": "q", "reasoning_content": "x"}]}
    with pytest.raises(ExportError) as e:
        convert(on_user, "sharegpt")
    assert e.value.reason == "reasoning_not_on_assistant"
    bad = {"messages": [{"role": "assistant", "content": "a", "reasoning_content": ["x"]}]}
    with pytest.raises(ExportError) as e:
        convert(bad, "trl")
    assert e.value.reason == "invalid_reasoning"
    with pytest.raises(ExportError) as e:
        to_alpaca(TOOL)
    assert e.value.reason == "tools_not_supported"


def test_trainer_snippets_follow_what_is_written() -> None:
    f = {"reasoning", "tools", "tool_calls"}
    trl = axolotl_block("trl", "sft", "o/train.jsonl", "o/eval.jsonl", fields=f)
    assert "      reasoning_content: reasoning_content" in trl
    assert "field_tools: tools" in trl and "      tool_calls: tool_calls" in trl
    sg = axolotl_block("sharegpt", "sft", "o/t.jsonl", "o/e.jsonl", fields={"reasoning"})
    assert "split_thinking: true" in sg
    assert axolotl_block("sharegpt", "sft", "o/t.jsonl", "o/e.jsonl", fields=f) == ""
    inline = axolotl_block("openai", "sft", "t", "e", fields={"reasoning"}, reasoning="inline")
    assert "split_thinking: true" in inline and "reasoning_content:" not in inline
    entry = llamafactory_entry("sharegpt", "sft", "train.jsonl", fields=f)
    assert entry["columns"]["tools"] == "tools"
    assert entry["tags"]["function_tag"] == "function_call"
    assert entry["tags"]["observation_tag"] == "observation"
    # LLaMA-Factory's ShareGPT reader would not see a reasoning field or tool calls
    assert llamafactory_entry("trl", "sft", "train.jsonl", fields={"reasoning"}) == {}
    assert llamafactory_entry("openai", "sft", "t.jsonl", fields={"tool_calls"}) == {}
    assert llamafactory_entry("openai", "sft", "t.jsonl", fields={"reasoning"}, reasoning="drop")


# -- through curate split ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "reasoning", "rejected", "carried", "dropped"),
    [
        ("trl", "auto", {"media_missing": 1}, 6, 0),
        ("hf", "auto", {"media_missing": 1}, 6, 0),
        ("sharegpt", "auto", {"media_missing": 1}, 6, 0),
        ("alpaca", "auto", {"media_missing": 1, "tools_not_supported": 1}, 4, 0),
        (
            "openai",
            "auto",
            {"media_missing": 1, "cannot_carry_reasoning": 3, "media_not_uploadable": 3},
            0,
            0,
        ),
        ("openai", "drop", {"media_missing": 1, "media_not_uploadable": 3}, 0, 5),
    ],
)
def test_split_accounts_for_every_record_and_every_trace(
    tmp_path: Path, fmt: str, reasoning: str, rejected: dict, carried: int, dropped: int
) -> None:
    m = split_path(
        CHAT, tmp_path, SplitOptions(eval_size=2, format=fmt, reasoning=reasoning, near=False)
    )
    c = m["counts"]
    assert c["read"] == 10 == c["train"] + c["eval"] + c["rejected"]
    assert c["rejected_by_reason"] == rejected
    r = m["carried"]["reasoning"]
    assert (r["messages_carried"], r["messages_dropped"]) == (carried, dropped)
    assert r["records_rejected"] == rejected.get("cannot_carry_reasoning", 0)
    reasons = [x["reason"] for x in rows(tmp_path / "rejected.jsonl")]
    assert Counter(reasons) == Counter(rejected)
    if fmt in ("trl", "sharegpt", "openai") and reasoning == "auto":
        data = (tmp_path / "train.jsonl").read_text() + (tmp_path / "eval.jsonl").read_text()
        n_field = data.count('"reasoning_content"')
        n_inline = data.count("<think>")
        assert (n_field, n_inline) == {"trl": (6, 0), "sharegpt": (0, 6), "openai": (0, 0)}[fmt]


def test_openai_export_with_dropped_reasoning_passes_validate_target_openai(
    tmp_path: Path,
) -> None:
    from curate.validate import validate_path

    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"What is {i} + {i}?"},
                        {
                            "role": "assistant",
                            "reasoning_content": f"{i} doubled is {2 * i}.",
                            "content": str(2 * i),
                        },
                    ]
                }
            )
            + "\n"
            for i in range(10)
        ),
        encoding="utf-8",
    )
    m = split_path(src, tmp_path / "out", SplitOptions(eval_size=2, reasoning="drop", near=False))
    assert m["carried"]["reasoning"]["messages_dropped"] == 10
    report = validate_path(
        [tmp_path / "out" / "train.jsonl", tmp_path / "out" / "eval.jsonl"], target="openai"
    )
    assert [f for f in report.findings if f.severity.value == "error"] == []


def test_sharegpt_export_reingests_to_the_same_records(tmp_path: Path) -> None:
    """Round trip: curate ingest reads the sharegpt export back to the canonical records
    (reasoning_content split off again from the <think> blocks, the one before a
    function_call turn included; tool calls and results paired again)."""
    lines = CHAT.read_text(encoding="utf-8").splitlines()
    src = tmp_path / "in.jsonl"
    keep = [
        json.loads(x) for x in lines if json.loads(x)["id"].startswith(("reason", "plain", "tool"))
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
    split_path(src, tmp_path / "sg", SplitOptions(eval_size=1, format="sharegpt", near=False))
    back = tmp_path / "back.jsonl"
    code = 0
    with pytest.raises(SystemExit) as e:
        main(["ingest", str(tmp_path / "sg" / "train.jsonl"), "-o", str(back)])
    code = int(e.value.code or 0)
    assert code == 0

    def canon(r: dict) -> str:
        """The messages with call ids and argument spacing left out (ingest numbers the
        calls itself and re-serialises the arguments)."""
        out = []
        for m in r["messages"]:
            m = dict(m)
            m.pop("tool_call_id", None)
            if m.get("tool_calls"):
                m["tool_calls"] = [
                    (c["function"]["name"], json.loads(c["function"]["arguments"]))
                    for c in m["tool_calls"]
                ]
            out.append(m)
        return json.dumps([out, r.get("tools")], sort_keys=True)

    got = {canon(r) for r in rows(back)}
    prov = rows(tmp_path / "sg" / "train.provenance.jsonl")
    by_id = {r["id"]: r for r in keep}
    want = {canon(by_id[p["id"]]) for p in prov}
    assert got == want and len(got) == len(prov)
    assert "tool-1" in {p["id"] for p in prov}  # the trace before a call came back too
    assert any('"tool_calls"' in g and "I need the current weather" in g for g in got)


def test_reasoning_templates_render_the_exported_trace(tmp_path: Path) -> None:
    """A real chat template that reads reasoning_content (the Qwen3 pattern: the trace in
    a <think> block, kept for the turns after the last user message) renders the trl
    export's trace; the same template given the openai export (reasoning dropped) does not."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "<eos>": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="<eos>")
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' and m.get('reasoning_content') %}"
        "<think>\n{{ m['reasoning_content'] }}\n</think>\n\n{% endif %}"
        "{{ m['content'] or '' }}<|im_end|>\n{% endfor %}"
    )
    split_path(CHAT, tmp_path / "trl", SplitOptions(eval_size=2, format="trl", near=False))
    texts = [
        fast.apply_chat_template(r["messages"], tokenize=False)
        for r in rows(tmp_path / "trl" / "train.jsonl") + rows(tmp_path / "trl" / "eval.jsonl")
    ]
    assert any("<think>\n17 * 24 = 17 * 20" in t for t in texts)
    split_path(
        CHAT,
        tmp_path / "oa",
        SplitOptions(eval_size=1, format="openai", reasoning="drop", media="embed", near=False),
    )
    for r in rows(tmp_path / "oa" / "train.jsonl"):
        assert "<think>" not in fast.apply_chat_template(r["messages"], tokenize=False)


def test_cli_reasoning_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "split", str(CHAT), "-o", str(tmp_path / "a"), "--eval-size", "2",
        "--format", "openai", "--reasoning", "inline", "--media", "embed", "--no-near",
    )  # fmt: skip
    assert code == 0, err
    assert "carried reasoning 6 (inline <think>...</think> block before the answer)" in out
    assert "rejected media_missing: 1" in err
    code, _, err = run(
        capsys, "split", str(CHAT), "-o", str(tmp_path / "b"), "--reasoning", "keep"
    )  # fmt: skip
    assert code == 2
    assert "--reasoning 'keep' is not one of: auto, inline, drop, reject" in err


def test_message_weights_are_carried_by_openai_and_counted_when_dropped(tmp_path: Path) -> None:
    """Only OpenAI's format has a per-message weight; elsewhere it is counted as dropped
    (a weight 0 apart: that turn is then trained), never lost without a word."""
    rec = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!", "weight": 0},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "weight": 1},
        ]
    }
    src = tmp_path / "w.jsonl"
    src.write_text(
        "".join(
            json.dumps({**rec, "id": f"w{i}", "messages": [
                {**m, "content": f"{m['content']} {i}"} for m in rec["messages"]
            ]}) + "\n"
            for i in range(6)
        ),
        encoding="utf-8",
    )  # fmt: skip
    m = split_path(src, tmp_path / "oa", SplitOptions(eval_size=2, near=False))
    assert m["carried"]["weights"]["messages_carried"] == 12
    assert rows(tmp_path / "oa" / "train.jsonl")[0]["messages"][1]["weight"] == 0
    m = split_path(src, tmp_path / "sg", SplitOptions(eval_size=2, format="sharegpt", near=False))
    w = m["carried"]["weights"]
    assert (w["messages_dropped"], w["zero_weight_dropped"]) == (12, 6)


def test_sharegpt_rejects_what_llamafactory_would_skip() -> None:
    """LLaMA-Factory's ShareGPT converter skips (with a warning) a conversation whose
    turns do not alternate or that does not end with the assistant: a reject here."""
    two_users = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": "Anyone?"},
            {"role": "assistant", "content": "Yes."},
        ]
    }
    no_reply = {"messages": [{"role": "user", "content": "Hi"}]}
    for rec in (two_users, no_reply):
        with pytest.raises(ExportError) as e:
            to_sharegpt(rec)
        assert e.value.reason == "not_alternating"
    with pytest.raises(ExportError, match="would skip this conversation"):
        to_sharegpt(two_users)
    # a tool round trip alternates: human, function_call, observation, gpt
    assert [t["from"] for t in to_sharegpt(TOOL)["conversations"]] == [
        "human",
        "function_call",
        "observation",
        "gpt",
    ]
