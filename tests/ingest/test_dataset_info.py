"""A LLaMA-Factory data folder read through its dataset_info.json (issue 21).

The fixture (fixtures/llamafactory_folder/) holds a real-shaped dataset_info.json: three of
LLaMA-Factory's demo datasets (records copied from its data/ folder), renamed Alpaca columns,
OpenAI-style messages with tags (reasoning, a system tag), a KTO set, a multimodal set with
an image, a ranked Alpaca set, two pre-training sets (JSONL and .txt), three remote entries
and a data file no dataset names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from curate.ingest import dataset_info, ingest_paths, read
from curate.media import local_path
from curate.records import InputError
from tests.conftest import FIXTURES
from tests.conftest import run_cli as run

FOLDER = FIXTURES / "llamafactory_folder"


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def by_dataset(path: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows(path):
        out.setdefault(r["source"]["dataset"], []).append(r)
    return out


@pytest.fixture
def ingested(tmp_path: Path) -> tuple[Any, Path]:
    out = tmp_path / "all.jsonl"
    return ingest_paths([FOLDER], out), out


def test_every_dataset_is_read_with_its_declared_format(ingested: tuple[Any, Path]) -> None:
    rep, out = ingested
    assert (rep.read, rep.written, rep.rejected) == (20, 15, 5)
    files = {Path(f.file).name: (f.format, f.read, f.written, f.rejected) for f in rep.files}
    assert files == {
        "alpaca_en_demo.json": ("alpaca", 3, 3, 0),
        "glaive_toolcall_en_demo.json": ("sharegpt", 2, 2, 0),
        "dpo_en_demo.json": ("sharegpt_preference", 2, 2, 0),
        "qa_renamed.jsonl": ("alpaca", 3, 2, 1),
        "reasoning_chat.json": ("sharegpt", 3, 2, 1),
        "kto_en_demo.json": ("sharegpt", 2, 2, 0),
        "mllm_demo.json": ("sharegpt", 1, 1, 0),
        "haiku_pref.jsonl": ("preference", 1, 1, 0),
        "c4_demo.jsonl": ("alpaca", 1, 0, 1),
        "wiki_demo.txt": ("alpaca", 2, 0, 2),
    }
    glaive = next(f for f in rep.files if f.file.endswith("glaive_toolcall_en_demo.json"))
    assert glaive.reason == (
        'dataset "glaive_toolcall_en_demo" in dataset_info.json: formatting sharegpt, '
        "columns messages=conversations, tools=tools"
    )
    assert dict(rep.by_reason) == {"missing_field": 1, "unknown_role": 1, "not_chat": 3}
    # provenance names the dataset; every record is one of the file's rows
    got = by_dataset(out)
    assert sorted(got) == ["alpaca_en_demo", "dpo_en_demo", "glaive_toolcall_en_demo",
                           "haiku_pref", "kto_en_demo", "mllm_demo", "qa_renamed",
                           "reasoning_chat"]  # fmt: skip
    src = got["glaive_toolcall_en_demo"][1]["source"]
    assert src == {"file": str(FOLDER / "glaive_toolcall_en_demo.json"), "row": 2,
                   "format": "sharegpt", "dataset": "glaive_toolcall_en_demo"}  # fmt: skip


def test_remote_and_undeclared_are_reported_not_silently_dropped(
    ingested: tuple[Any, Path],
) -> None:
    rep, _ = ingested
    info = FOLDER / "dataset_info.json"
    assert rep.skipped == [
        f'{info}: dataset "alpaca_en" (hf_hub_url llamafactory/alpaca_en: remote, not read '
        "offline; download it, give its file_name)",
        f'{info}: dataset "deepctrl" (ms_hub_url deepctrl/deepctrl-sft-data: remote, not read '
        "offline; download it, give its file_name)",
        f'{info}: dataset "belle_multiturn" (script_url belle_multiturn: a loading script, not '
        "run; export its data to a file)",
        f"{FOLDER / 'scratch.jsonl'} (no dataset of dataset_info.json names it)",
    ]


def test_same_records_as_the_format_read_directly(
    ingested: tuple[Any, Path], tmp_path: Path
) -> None:
    _, out = ingested
    direct = tmp_path / "direct.jsonl"
    demo = ["alpaca_en_demo.json", "glaive_toolcall_en_demo.json", "dpo_en_demo.json"]
    ingest_paths([FOLDER / f for f in demo], direct)
    got = by_dataset(out)
    via_info = [r["id"] for name in demo for r in got[name.removesuffix(".json")]]
    assert via_info == [r["id"] for r in rows(direct)]
    tool = got["glaive_toolcall_en_demo"][0]
    assert tool["tools"][0]["type"] == "function"
    assert any("tool_calls" in m for m in tool["messages"])
    dpo = got["dpo_en_demo"][0]
    assert dpo["preferred_output"][0]["role"] == "assistant"


def test_renamed_columns_and_undeclared_keys(ingested: tuple[Any, Path], tmp_path: Path) -> None:
    _, out = ingested
    one, two = by_dataset(out)["qa_renamed"]
    assert one["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Translate 'thank you' into French."},
        {"role": "assistant", "content": "Merci."},
    ]
    # "system" is not a declared column: LLaMA-Factory would not use it, so it is metadata
    assert one["metadata"] == {"id": "orca-1", "system": "ignored by LLaMA-Factory: not declared"}
    assert [m["content"] for m in two["messages"]] == ["What is 11 squared?", "121.",
                                                      "What is 12 squared?", "144."]  # fmt: skip
    rejects = {(Path(r["source"]["file"]).name, r["source"].get("line") or r["source"]["row"]): r
               for r in rows(tmp_path / "all.rejected.jsonl")}  # fmt: skip
    miss = rejects[("qa_renamed.jsonl", 3)]
    assert miss["reason"] == "missing_field"
    assert miss["message"] == (
        'dataset "qa_renamed": column "response" (columns.response) is missing '
        "(have: id, question, system_prompt)"
    )
    assert miss["record"]["id"] == "orca-3"  # the original row, for a fix and a rerun


def test_tags_reasoning_kto_media_and_ranking(ingested: tuple[Any, Path], tmp_path: Path) -> None:
    _, out = ingested
    got = by_dataset(out)
    think, plain = got["reasoning_chat"]
    assert think["messages"][0] == {"role": "system", "content": "Think step by step."}
    assert think["messages"][2]["reasoning_content"] == "7 * 24 * 60 = 10080."
    assert think["messages"][2]["content"] == "There are 10,080 minutes in a week."
    assert plain["messages"][1]["reasoning_content"] == "91 = 7 * 13."
    rejects = rows(tmp_path / "all.rejected.jsonl")
    role = next(r for r in rejects if r["reason"] == "unknown_role")
    assert role["message"] == (
        "dataset \"reasoning_chat\": messages[1] has role 'tool', which the tags of the "
        "dataset do not map (user_tag='user', assistant_tag='assistant', "
        "system_tag='system'); add it to the dataset's tags in dataset_info.json"
    )
    assert [r["metadata"]["kto_tag"] for r in got["kto_en_demo"]] == [True, False]
    (vision,) = got["mllm_demo"]
    part = vision["messages"][0]["content"][0]
    assert part["type"] == "image_url"
    assert (
        local_path(part["image_url"]["url"], out).resolve()
        == (FOLDER / "mllm_demo_data/1.png").resolve()
    )
    (haiku,) = got["haiku_pref"]
    assert haiku["input"]["messages"] == [{"role": "user", "content": "Write a haiku about rain."}]
    assert haiku["non_preferred_output"] == [{"role": "assistant", "content": "Rain is wet."}]
    not_chat = [r for r in rejects if r["reason"] == "not_chat"]
    assert [(Path(r["source"]["file"]).name, r["source"]["line"]) for r in not_chat] == [
        ("c4_demo.jsonl", 1), ("wiki_demo.txt", 1), ("wiki_demo.txt", 3)
    ]  # fmt: skip
    assert not_chat[1]["record"] == {"text": "Anarchism is a political philosophy."}


def test_output_passes_validate_structurally(ingested: tuple[Any, Path]) -> None:
    from curate.validate import validate_path

    _, out = ingested
    report = validate_path([str(out)])
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert errors == []


def test_the_file_itself_and_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ingest_paths([FOLDER], a)
    code, _, err = run(["ingest", str(FOLDER / "dataset_info.json"), "-o", str(b)], capsys)
    assert code == 1  # some rows are rejected (they are in the rejects file)
    assert a.read_bytes() == b.read_bytes()
    assert 'dataset "alpaca_en" (hf_hub_url llamafactory/alpaca_en' in err
    assert 'wiki_demo.txt: alpaca (dataset "wiki_demo" in dataset_info.json' in err
    code, out, _ = run(["ingest", str(FOLDER), "-o", str(b), "--json", "--allow-rejects"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["read"] == 20 and len(summary["skipped"]) == 4
    # the streaming twin reads the same datasets
    assert sum(1 for _ in read(FOLDER)) == 20
    # --format / --map do not apply to a folder whose datasets declare their formats
    code, _, err = run(["ingest", str(FOLDER), "-o", str(b), "--format", "alpaca"], capsys)
    assert code == 2 and "do not apply to a dataset_info.json folder" in err


def _folder(tmp_path: Path, info: Any, files: dict[str, Any]) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    for name, content in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content if isinstance(content, str) else json.dumps(content))
    (d / "dataset_info.json").write_text(info if isinstance(info, str) else json.dumps(info))
    return d


def test_malformed_entries_are_skipped_with_the_reason(tmp_path: Path) -> None:
    rec = [{"instruction": "Hi", "output": "Hello"}]
    d = _folder(tmp_path, {
        "ok": {"file_name": "a.json"},
        "bad_fmt": {"file_name": "a.json", "formatting": "chatml"},
        "bad_cols": {"file_name": "a.json", "columns": ["prompt"]},
        "typo": {"file_name": "a.json", "columns": {"promt": "instruction"}},
        "no_msgs": {"file_name": "a.json", "formatting": "sharegpt", "columns": {"system": "s"}},
        "rank": {"file_name": "a.json", "ranking": True},
        "gone": {"file_name": "gone.json"},
        "nothing": {"formatting": "alpaca"},
        "scalar": 3,
    }, {"a.json": rec})  # fmt: skip
    info = dataset_info.load(d / "dataset_info.json")
    assert [e.name for e in info.entries] == ["ok"]
    reasons = [s.split(" (", 1)[1] for s in info.skipped]
    assert reasons == [
        "formatting 'chatml' is not one of alpaca, sharegpt, openai)",
        "columns is a JSON array, expected an object)",
        "unknown columns promt (known: prompt, query, response, history, messages, system, "
        "tools, images, videos, audios, chosen, rejected, kto_tag))",
        "formatting sharegpt needs a messages column in columns)",
        "ranking is true but columns names no chosen and rejected columns)",
        f"file_name gone.json: not found in {d})",
        "no file_name (nor a hub url): nothing to read)",
        "the entry is a JSON number, not an object)",
    ]
    rep = ingest_paths([d], tmp_path / "o.jsonl")
    assert (rep.read, rep.written) == (1, 1)


def test_a_broken_dataset_info_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _folder(tmp_path, '{"a": {"file_name": "a.json"},\n  oops}', {})
    with pytest.raises(InputError, match=r"dataset_info.json:2: not valid JSON"):
        ingest_paths([d], tmp_path / "o.jsonl")
    code, _, err = run(["ingest", str(d), "-o", str(tmp_path / "o.jsonl")], capsys)
    assert code == 2 and "not valid JSON" in err and "Traceback" not in err
    (tmp_path / "r").mkdir()
    only_remote = _folder(tmp_path / "r", {"x": {"hf_hub_url": "a/b"}}, {})
    with pytest.raises(InputError, match=r'no input files found .*dataset "x"'):
        ingest_paths([only_remote], tmp_path / "o.jsonl")


def test_folder_file_name_openai_formatting_and_media_dir(tmp_path: Path) -> None:
    png = (FOLDER / "mllm_demo_data/1.png").read_bytes()
    msgs = {
        "messages": [
            {"role": "user", "content": "<image>Shape?"},
            {"role": "assistant", "content": "A circle."},
        ],
        "images": ["img/1.png"],
    }
    tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
            "assistant_tag": "assistant"}  # fmt: skip
    d = _folder(tmp_path, {
        "shards": {"file_name": "shards", "formatting": "openai",
                   "columns": {"messages": "messages", "images": "images"}, "tags": tags},
    }, {"shards/part-1.jsonl": json.dumps(msgs) + "\n", "shards/part-2.jsonl": json.dumps(msgs)
        + "\n", "img/1.png": png})  # fmt: skip
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    rep = ingest_paths([d], out)
    assert (rep.read, rep.written) == (2, 2)
    for r in rows(out):
        url = r["messages"][0]["content"][0]["image_url"]["url"]
        # the image path is relative to the data folder (LLaMA-Factory's media_dir), not to
        # the shard's subfolder; written relative to the output
        assert local_path(url, out).resolve() == (d / "img/1.png").resolve()
    copied = tmp_path / "copy"
    shutil.copytree(d, copied)
    assert sum(1 for _ in read(copied / "dataset_info.json")) == 2


def test_a_hugging_face_dataset_info_is_not_a_llamafactory_one(tmp_path: Path) -> None:
    """``datasets``' save_to_disk writes a dataset_info.json too (features, splits...)."""
    d = _folder(
        tmp_path,
        {"citation": "", "features": {"instruction": {"dtype": "string"}}, "splits": {}},
        {"a.jsonl": json.dumps({"instruction": "Hi", "output": "Hello"}) + "\n"},
    )
    assert dataset_info.info_file(d) is None
    assert dataset_info.info_file(d / "dataset_info.json") is None
    # an LLaMA-Factory-shaped file inside a folder saved by datasets (state.json) is its own
    (tmp_path / "x").mkdir()
    d2 = _folder(tmp_path / "x", {"a": {"file_name": "a.jsonl"}}, {})
    assert dataset_info.info_file(d2) == d2 / "dataset_info.json"
    (d2 / "state.json").write_text("{}")
    assert dataset_info.info_file(d2) is None
