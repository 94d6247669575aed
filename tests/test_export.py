"""curate.export: each format loaded by its real consumer where one installs here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.export import (
    ExportError,
    axolotl_block,
    convert,
    llamafactory_entry,
    to_alpaca,
    to_sharegpt,
    to_trl,
)
from curate.split import SplitOptions, split_path

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "split"
CHAT = FIX / "chat.jsonl"
DPO = FIX / "dpo.jsonl"

TOOL_REC = {
    "messages": [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "assistant", "content": "18C and sunny.", "weight": 1},
    ],
    "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
    "id": "t1",
    "source": {"file": "raw.jsonl", "line": 3},
}
DPO_REC = {
    "input": {"messages": [{"role": "user", "content": "Say hi"}]},
    "preferred_output": [{"role": "assistant", "content": "Hi!"}],
    "non_preferred_output": [{"role": "assistant", "content": "No."}],
    "id": "d1",
}


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


# -- converters ----------------------------------------------------------------------------


def test_openai_keeps_only_accepted_keys() -> None:
    out = convert(TOOL_REC, "openai")
    assert list(out) == ["messages", "tools"]
    assert out["messages"][4] == {"role": "assistant", "content": "18C and sunny.", "weight": 1}
    assert convert(DPO_REC, "openai") == {
        "input": {"messages": [{"role": "user", "content": "Say hi"}]},
        "preferred_output": [{"role": "assistant", "content": "Hi!"}],
        "non_preferred_output": [{"role": "assistant", "content": "No."}],
    }


def test_sharegpt_tool_calls_become_function_call_turns() -> None:
    out = to_sharegpt(TOOL_REC)
    assert out["system"] == "Use tools."
    assert [t["from"] for t in out["conversations"]] == [
        "human",
        "function_call",
        "observation",
        "gpt",
    ]
    assert json.loads(out["conversations"][1]["value"]) == {
        "name": "weather",
        "arguments": {"city": "Paris"},
    }
    assert json.loads(out["tools"])[0]["function"]["name"] == "weather"
    assert to_sharegpt(DPO_REC) == {
        "conversations": [{"from": "human", "value": "Say hi"}],
        "chosen": {"from": "gpt", "value": "Hi!"},
        "rejected": {"from": "gpt", "value": "No."},
    }


def test_alpaca_history_and_what_it_cannot_hold() -> None:
    rec = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": "d"},
        ]
    }
    assert to_alpaca(rec) == {
        "instruction": "c",
        "input": "",
        "output": "d",
        "history": [["a", "b"]],
    }
    assert to_alpaca(DPO_REC) == {
        "instruction": "Say hi",
        "input": "",
        "chosen": "Hi!",
        "rejected": "No.",
        "history": [],
    }
    with pytest.raises(ExportError) as e:
        to_alpaca(TOOL_REC)
    assert e.value.reason == "tools_not_supported"
    late_system = {"messages": [*rec["messages"][:2], {"role": "system", "content": "x"}]}
    with pytest.raises(ExportError) as e:
        to_alpaca(late_system)
    assert e.value.reason == "system_not_first"
    with pytest.raises(ExportError) as e:
        to_alpaca({"messages": [{"role": "user", "content": "a"}]})
    assert e.value.reason == "not_alternating"


def test_trl_shapes() -> None:
    pc = to_trl(TOOL_REC, "prompt-completion")
    assert pc["completion"] == [{"role": "assistant", "content": "18C and sunny."}]
    assert pc["prompt"][-1] == {"role": "tool", "content": "18C", "tool_call_id": "c1"}
    assert "tools" in pc
    with pytest.raises(ExportError) as e:
        to_trl({"messages": [{"role": "user", "content": "q"}]}, "prompt-completion")
    assert e.value.reason == "no_final_assistant"
    assert set(to_trl(DPO_REC)) == {"prompt", "chosen", "rejected"}


def test_trainer_snippets() -> None:
    e = llamafactory_entry("sharegpt", "preference", "train.jsonl", tools=True)
    assert e["ranking"] is True and e["columns"]["tools"] == "tools"
    assert llamafactory_entry("openai", "preference", "train.jsonl") == {}
    block = axolotl_block("trl", "preference", "o/train.jsonl", "o/eval.jsonl")
    assert block.startswith("rl: dpo\ndatasets:\n")


# -- exports loaded by their consumers -------------------------------------------------------


def test_openai_export_passes_curate_validate_target_openai(tmp_path: Path) -> None:
    from curate.validate import validate_path

    m = split_path(CHAT, tmp_path, SplitOptions(eval_fraction=0.2))
    report = validate_path([tmp_path / "train.jsonl", tmp_path / "eval.jsonl"], target="openai")
    assert report.n_examples == 120
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert errors == []
    for r in rows(tmp_path / "train.jsonl"):
        assert set(r) <= {"messages", "tools", "parallel_tool_calls", "functions"}
    # the input itself carries provenance keys that OpenAI rejects
    raw = validate_path([CHAT], target="openai")
    assert raw.total.findings_by_code.get("unrecognized_top_level_key") == 120
    # provenance is kept beside, line for line
    prov = rows(tmp_path / "train.provenance.jsonl")
    assert len(prov) == m["counts"]["train"]
    assert prov[0]["source"]["file"] == "alpaca_en_demo.json"


def test_hf_export_loads_with_datasets(tmp_path: Path) -> None:
    import datasets

    m = split_path(CHAT, tmp_path, SplitOptions(eval_fraction=0.2, format="hf"))
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    assert set(dd) == {"train", "eval"}
    assert (
        dd["train"].num_rows == m["counts"]["train"] and dd["eval"].num_rows == m["counts"]["eval"]
    )
    files = {"train": str(tmp_path / "train.parquet"), "eval": str(tmp_path / "eval.parquet")}
    pq = datasets.load_dataset("parquet", data_files=files, cache_dir=str(tmp_path / "cache"))
    assert pq["eval"].num_rows == m["counts"]["eval"]
    assert pq["train"].column_names == ["messages", "tools", "id"]
    msg_type = str(pq["train"].data.schema.field("messages").type)
    assert "function: struct<name: string, arguments: string>" in msg_type
    row = next(r for r in dd["train"]["messages"] if any(x["tool_calls"] for x in r))
    call = next(x for x in row if x["tool_calls"])["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) is not None


def test_hf_preference_export_and_reproducible_folder(tmp_path: Path) -> None:
    import datasets

    split_path(DPO, tmp_path / "a", SplitOptions(eval_size=5, format="hf"))
    dd = datasets.load_from_disk(str(tmp_path / "a" / "hf"))
    assert dd["eval"].num_rows == 5
    assert dd["train"].column_names == ["prompt", "chosen", "rejected", "tools", "id"]
    assert dd["train"][0]["chosen"][0]["role"] == "assistant"
    first = {
        p.relative_to(tmp_path / "a").as_posix(): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    split_path(DPO, tmp_path / "a", SplitOptions(eval_size=5, format="hf"))
    again = {
        p.relative_to(tmp_path / "a").as_posix(): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    assert first == again


def _tiny_tokenizer() -> object:
    """A real fast tokenizer with a chat template, built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "<eos>": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="<eos>")
    fast.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] or '' }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    return fast


@pytest.mark.parametrize(
    ("src", "shape", "columns"),
    [
        (CHAT, "messages", {"messages", "tools"}),
        (CHAT, "prompt-completion", {"prompt", "completion", "tools"}),
        (DPO, "messages", {"prompt", "chosen", "rejected"}),
    ],
)
def test_trl_export_is_read_by_trl(
    tmp_path: Path, src: Path, shape: str, columns: set[str]
) -> None:
    import datasets

    split_path(src, tmp_path, SplitOptions(eval_size=5, format="trl", trl_shape=shape))
    ds = datasets.load_dataset(
        "json",
        data_files={"train": str(tmp_path / "train.jsonl"), "eval": str(tmp_path / "eval.jsonl")},
        cache_dir=str(tmp_path / "cache"),
    )
    assert set(ds["train"].column_names) <= columns
    assert ds["eval"].num_rows == 5
    trl_data = pytest.importorskip("trl.data_utils", reason="TRL needs torch (CPU build)")
    tok = _tiny_tokenizer()
    for r in rows(tmp_path / "train.jsonl")[:20]:
        assert trl_data.is_conversational(r)
        r.pop("tools", None)
        out = trl_data.apply_chat_template(r, tok)
        key = {"messages": "text"}.get(next(iter(r)), "prompt")
        assert out[key].startswith("<|")


def test_sharegpt_and_alpaca_exports_match_their_llamafactory_entries(tmp_path: Path) -> None:
    import yaml

    for fmt in ("sharegpt", "alpaca"):
        out = tmp_path / fmt
        m = split_path(CHAT, out, SplitOptions(eval_fraction=0.2, format=fmt))
        info = json.loads((out / "dataset_info.json").read_text())
        entry = info["curate_train"]
        assert (out / entry["file_name"]).exists()
        data = rows(out / entry["file_name"])
        assert len(data) == m["counts"]["train"]
        cols = set(entry["columns"].values())
        for r in data:
            assert set(r) <= cols | {"input"}
        if fmt == "sharegpt":
            # function_call/observation turns and JSON-text tools: axolotl's chat_template
            # loader cannot read them, so no snippet, and the manifest says why
            assert not (out / "axolotl.yaml").exists()
            assert "axolotl.yaml" in m["carried"]["trainer_configs_not_written"]
            continue
        cfg = yaml.safe_load((out / "axolotl.yaml").read_text())
        assert Path(cfg["datasets"][0]["path"]) == out / "train.jsonl"
        assert Path(cfg["test_datasets"][0]["path"]) == out / "eval.jsonl"
    # alpaca cannot hold the 15 tool-calling conversations: rejected with the reason
    assert m["counts"]["rejected_by_reason"] == {"tools_not_supported": 15}
