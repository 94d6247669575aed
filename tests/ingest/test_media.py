"""Media in ingest (docs/ingest.md, "Media"): placeholders + media columns, TRL vision parts,
OpenAI vision parts, LLaMA-Factory v1 media parts and preference data, path rewriting; each
reject on a real-shaped record that triggers it and one that does not; and the end to end
run: a LLaMA-Factory multimodal folder through ingest and validate, every record counted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from curate.ingest import ingest_paths
from curate.ingest.base import IngestOptions, Reject, get
from curate.ingest.media import column_items, rewrite_paths
from curate.media import iter_media, local_path
from curate.records import InputError
from curate.validate import validate_path
from tests.ingest.helpers import FIXTURES, lines, reasons, run

MEDIA = FIXTURES / "media"
DEMO = MEDIA / "mllm"


def conv(fmt: str, record: dict[str, Any]) -> dict[str, Any]:
    return get(fmt).convert(record, IngestOptions())


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def reply(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


IMG = {"type": "image_url", "image_url": {"url": "mllm_demo_data/1.jpg"}}


# -- placeholders + columns (LLaMA-Factory mllm_demo shape) ------------------------------


def test_placeholder_becomes_a_part_at_its_position() -> None:
    rec = {
        "messages": [user("<image>Who are they?"), reply("Kane and Gretzka.")],
        "images": ["mllm_demo_data/1.jpg"],
    }
    out = conv("openai", rec)
    assert out["messages"][0]["content"] == [IMG, {"type": "text", "text": "Who are they?"}]
    assert out["messages"][1] == reply("Kane and Gretzka.")
    assert "metadata" not in out  # the images column is used, not left in metadata


def test_placeholders_in_the_middle_and_across_turns_take_the_list_in_order() -> None:
    rec = {
        "conversations": [
            {"from": "human", "value": "Compare <image> and <image>."},
            {"from": "gpt", "value": "The first is blue."},
            {"from": "human", "value": "<image>And this?"},
            {"from": "gpt", "value": "Red."},
        ],
        "images": ["a.jpg", "b.jpg", "c.png"],
    }
    out = conv("sharegpt", rec)
    first = out["messages"][0]["content"]
    assert [p.get("text") or p["image_url"]["url"] for p in first] == [
        "Compare ",
        "a.jpg",
        " and ",
        "b.jpg",
        ".",
    ]
    assert [m.url for m in iter_media(out["messages"])] == ["a.jpg", "b.jpg", "c.png"]


def test_llava_singular_image_key() -> None:
    """LLaVA-Instruct's shape: "image" (one path) and "<image>\\n" in the first turn."""
    rec = {
        "id": "000000033471",
        "image": "coco/train2017/000000033471.jpg",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat are the colors of the bus?"},
            {"from": "gpt", "value": "White and red."},
        ],
    }
    out = conv("sharegpt", rec)
    assert out["messages"][0]["content"][0]["image_url"]["url"] == rec["image"]
    assert out["metadata"] == {"id": "000000033471"}
    # without a placeholder in the turns, "image" is ordinary data
    plain = {"image": "logo.png", "conversations": rec["conversations"][1:]}
    plain["conversations"] = [{"from": "human", "value": "Hi"}, *plain["conversations"]]
    assert conv("sharegpt", plain)["metadata"] == {"image": "logo.png"}


def test_other_formats_with_media_columns(tmp_path: Path) -> None:
    """LLaMA-Factory's Alpaca formatting and TRL's vision preference data carry images too."""
    src = tmp_path / "a.jsonl"
    rows = [
        {
            "instruction": "<image>What is it?",
            "input": "",
            "output": "A square.",
            "images": ["1.jpg"],
        },
        {
            "images": ["2.jpg"],
            "prompt": [
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Shape?"}]}
            ],
            "chosen": [{"role": "assistant", "content": "An ellipse."}],
            "rejected": [{"role": "assistant", "content": "A cat."}],
        },
    ]
    src.write_text(json.dumps(rows[0]) + "\n")
    (good,), bad = run(src)
    assert not bad and "metadata" not in good
    assert good["messages"][0]["content"][0]["image_url"]["url"] == "1.jpg"
    src.write_text(json.dumps(rows[1]) + "\n")
    (good,), bad = run(src)
    assert good["input"]["messages"][0]["content"][0]["image_url"]["url"] == "2.jpg"
    assert good["preferred_output"] == [reply("An ellipse.")]


def test_video_and_audio_placeholders() -> None:
    rec = {
        "messages": [user("<video><audio>What is the video describing?"), reply("A girl.")],
        "videos": ["mllm_demo_data/4.mp4"],
        "audios": ["mllm_demo_data/4.mp3"],
    }
    parts = conv("openai", rec)["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["video_url", "audio_url", "text"]


def test_no_placeholder_prepends_them_to_the_first_user_message() -> None:
    """LLaMA-Factory's chat engines put <image> * len(images) before the first message's text
    when no message has one (mllm_demo.json's older version has no placeholders)."""
    rec = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            user("Who are they?"),
            reply("Kane."),
        ],
        "images": ["1.jpg"],
        "videos": ["4.mp4"],
    }
    out = conv("openai", rec)
    assert out["messages"][0] == {"role": "system", "content": "Be brief."}
    types = [p["type"] for p in out["messages"][1]["content"]]
    assert types == ["video_url", "image_url", "text"]  # images first, then videos before them


def test_count_mismatch_is_rejected_with_a_clear_reason() -> None:
    base = {"messages": [user("<image><image>Compare them."), reply("They differ.")]}
    with pytest.raises(Reject) as e:
        conv("openai", {**base, "images": ["1.jpg"]})
    assert e.value.reason == "media_mismatch"
    assert "2 <image> placeholder(s)" in e.value.message and '"images" lists 1' in e.value.message
    assert conv("openai", {**base, "images": ["1.jpg", "2.jpg"]})  # matching: accepted
    with pytest.raises(Reject, match='there is no "videos"'):
        conv("openai", {"messages": [user("<video>Hi"), reply("Yo")], "images": []})


def test_bad_media_items_are_rejected() -> None:
    for item, words in [
        ({"bytes": "\\x89PNG", "path": None}, "holds the file's bytes"),
        (["f1.jpg", "f2.jpg"], "a list"),
        ("", "empty string"),
        (3, "JSON number"),
    ]:
        with pytest.raises(Reject, match=words) as e:
            column_items({"images": [item]})
        assert e.value.reason == "bad_media"
    assert column_items({"images": [{"path": "x.jpg", "bytes": None}]}) == {"images": ["x.jpg"]}


def test_text_without_media_columns_is_left_alone() -> None:
    """A literal <image> tag in a text-only dataset stays text (validate warns about it)."""
    rec = {"messages": [user("What does <image> mean in HTML?"), reply("An image tag.")]}
    assert conv("openai", rec)["messages"][0]["content"] == "What does <image> mean in HTML?"


def test_preference_records_with_images() -> None:
    rec = {
        "conversations": [{"from": "human", "value": "<image>What is it?"}],
        "chosen": {"from": "gpt", "value": "A yellow square."},
        "rejected": {"from": "gpt", "value": "A cat."},
        "images": ["1.jpg"],
    }
    out = conv("sharegpt_preference", rec)
    assert out["input"]["messages"][0]["content"][0]["type"] == "image_url"
    assert out["preferred_output"] == [reply("A yellow square.")]


def test_media_in_a_preference_reply_is_rejected() -> None:
    """The DPO record's reply is text; a validated preference record never holds parts."""
    rec = {
        "conversations": [{"from": "human", "value": "Draw a cat."}],
        "chosen": {"from": "gpt", "value": "<image>"},
        "rejected": {"from": "gpt", "value": "No."},
        "images": ["cat.png"],
    }
    with pytest.raises(Reject, match="chosen reply has a media placeholder") as e:
        conv("sharegpt_preference", rec)
    assert e.value.reason == "unsupported_content"
    tp = {"type": "text", "value": "Draw a cat."}
    reply_img = {"role": "assistant", "content": [{"type": "image_url", "value": "cat.png"}]}
    rec = {
        "chosen_messages": [{"role": "user", "content": [tp]}, reply_img],
        "rejected_messages": [{"role": "user", "content": [tp]}, reply("No.")],
    }
    with pytest.raises(Reject, match="reply has media parts"):
        conv("llamafactory_preference", rec)


# -- TRL vision, OpenAI vision, inline parts ---------------------------------------------


def test_trl_vision_fixture() -> None:
    good, bad = run(MEDIA / "trl_vision.jsonl")
    assert not bad and len(good) == 2
    first = good[0]["messages"][0]["content"]
    assert first[0] == {"type": "image_url", "image_url": {"url": "mllm/mllm_demo_data/1.jpg"}}
    assert first[1] == {"type": "text", "text": "What is shown?"}
    urls = [m.url for m in iter_media(good[1]["messages"])]
    assert urls == ["mllm/mllm_demo_data/2.jpg", "mllm/mllm_demo_data/3.png"]  # by index


def test_trl_index_out_of_range_and_missing_column_are_rejected() -> None:
    msgs = [{"role": "user", "content": [{"type": "image", "index": 1}]}, reply("x")]
    with pytest.raises(Reject, match=r"images\[1\]") as e:
        conv("openai", {"messages": msgs, "images": ["a.jpg"]})
    assert e.value.reason == "media_mismatch"
    with pytest.raises(Reject, match='there is no "images"'):
        conv("openai", {"messages": [{"role": "user", "content": [{"type": "image"}]}, reply("x")]})


def test_inline_sources_and_input_audio() -> None:
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "image", "url": "https://example.com/cat.png"},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "text", "text": "Hi"},
            ],
        },
        reply("A cat."),
    ]
    msgs[0]["content"].append({"type": "image_url", "image_url": "https://example.com/b.png"})
    parts = conv("openai", {"messages": msgs})["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert parts[3] == {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}}
    assert parts[1] == {"type": "audio_url", "audio_url": {"url": "data:audio/wav;base64,UklGRg=="}}


def test_openai_vision_parts_pass_through_unchanged() -> None:
    good, bad = run(MEDIA / "openai_vision.jsonl")
    assert not bad
    src = lines(MEDIA / "openai_vision.jsonl")
    assert [g["messages"] for g in good] == [s["messages"] for s in src]  # detail kept
    assert good[1]["messages"][0]["content"][1]["image_url"]["detail"] == "low"


# -- LLaMA-Factory v1 --------------------------------------------------------------------


def test_llamafactory_v1_media_parts() -> None:
    good, bad = run(MEDIA / "v1_media.jsonl")
    assert not bad
    first = good[0]["messages"][0]
    assert first["content"] == [
        {"type": "text", "text": "Who is in this picture?"},
        {"type": "image_url", "image_url": {"url": "mllm/mllm_demo_data/1.jpg"}},
    ]
    second = good[1]["messages"]
    assert [p["type"] for p in second[0]["content"]] == [
        "text",
        "image_url",
        "text",
        "image_url",
        "text",
    ]
    assert second[1]["reasoning_content"].startswith("The red one")


def test_llamafactory_v1_preference() -> None:
    good, bad = run(FIXTURES / "llamafactory_preference" / "v1_preference.jsonl")
    assert not bad and len(good) == 2
    rec = good[0]
    assert rec["input"]["messages"][0]["content"][1]["type"] == "image_url"
    assert rec["preferred_output"] == [
        {"role": "assistant", "content": "A white ellipse on a green background.", "weight": 1}
    ]
    assert rec["non_preferred_output"][0]["content"] == "A cat."
    assert rec["metadata"] == {"_dataset_name": "demo"}
    assert good[1]["preferred_output"][0]["reasoning_content"] == "Add."


def test_llamafactory_v1_preference_rejects() -> None:
    good, bad = run(FIXTURES / "llamafactory_preference" / "bad.jsonl")
    assert not good
    assert reasons(bad) == [
        (1, "no_prompt"),  # different first questions
        (2, "unsupported_content"),  # the chosen side goes on for three messages
        (3, "bad_media"),  # embedded bytes
        (4, "missing_field"),  # no rejected_messages
    ]


# -- paths -------------------------------------------------------------------------------


def test_paths_are_rewritten_relative_to_the_output(tmp_path: Path) -> None:
    body = {"messages": [{"role": "user", "content": [dict(IMG, image_url={"url": "i/a.png"})]}]}
    rewrite_paths(body, "/data/raw/train.json", "/data/out/sft/train.jsonl")
    assert body["messages"][0]["content"][0]["image_url"]["url"] == "../../raw/i/a.png"
    kept = ("https://x/y.png", "data:image/png;base64,AA", "/abs/a.png", "file:///a.png")
    for url in (*kept, "s3://bucket/a.png", "C:\\imgs\\a.png"):
        body = {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
            ]
        }
        rewrite_paths(body, "/data/raw/train.json", "/data/out/train.jsonl")
        assert body["messages"][0]["content"][0]["image_url"]["url"] == url


def test_media_dir_is_looked_up_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "imgs").mkdir(parents=True)
    shutil.copy(DEMO / "mllm_demo_data" / "1.jpg", data / "imgs" / "1.jpg")
    src = tmp_path / "sub" / "train.json"
    src.parent.mkdir()
    src.write_text(
        json.dumps([{"messages": [user("<image>Hi"), reply("Yo")], "images": ["imgs/1.jpg"]}])
    )
    out = tmp_path / "out" / "train.jsonl"
    ingest_paths([src], out)  # without --media-dir: beside the source (missing there)
    url = json.loads(out.read_text())["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "../sub/imgs/1.jpg" and not local_path(url, out).exists()
    ingest_paths([src], out, media_dir=data)
    url = json.loads(out.read_text())["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "../data/imgs/1.jpg" and local_path(url, out).exists()
    with pytest.raises(InputError, match=r"--media-dir .*not a folder"):
        ingest_paths([src], out, media_dir=tmp_path / "nope")


def test_columns_map_images(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("question,answer,photo\nWhat is it?,A square.,imgs/1.jpg\n")
    good, bad = run(src, maps={"user": "question", "assistant": "answer", "images": "photo"})
    assert not bad
    assert good[0]["messages"][0]["content"][0]["image_url"]["url"] == "imgs/1.jpg"


# -- end to end --------------------------------------------------------------------------


def test_end_to_end_llamafactory_folder_ingest_then_validate(tmp_path: Path) -> None:
    """The good folder: every record written and 0 errors; the broken one: every record
    accounted for, and each broken image named at its file:line."""
    out = tmp_path / "clean" / "train.jsonl"
    rep = ingest_paths([DEMO], out)
    assert (rep.read, rep.written, rep.rejected) == (6, 6, 0)
    for rec in lines(out):
        for m in iter_media(rec["messages"]):
            assert local_path(m.url, out).is_file()
    v = validate_path([out], target="curate", workers=1)
    assert v.n_examples == 6 and v.n_invalid == 0
    assert not [f for f in v.findings if f.code.startswith("media_")]

    bad_out = tmp_path / "broken.jsonl"
    rep = ingest_paths([MEDIA / "mllm_broken"], bad_out)
    assert rep.read == rep.written + rep.rejected == 5
    assert dict(rep.by_reason) == {"media_mismatch": 1}
    v = validate_path([bad_out], target="curate", workers=1)
    got = sorted((f.location.line, f.code) for f in v.findings if f.code.startswith("media_"))
    assert got == [
        (2, "media_file_missing"),
        (3, "media_file_undecodable"),
        (4, "media_file_undecodable"),
    ]
    assert all(f.location.file == str(bad_out) for f in v.findings)
    assert v.n_examples - v.n_invalid == 1  # the one good record


def test_media_dir_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[tool.curate.ingest] media_dir`` is read by ``curate ingest`` (the command line
    wins) and by ``curate.ingest(config=...)``."""
    import curate
    from curate.cli import main

    data = tmp_path / "data"
    (data / "imgs").mkdir(parents=True)
    shutil.copy(DEMO / "mllm_demo_data" / "1.jpg", data / "imgs" / "1.jpg")
    src = tmp_path / "train.json"
    src.write_text(
        json.dumps([{"messages": [user("<image>Hi"), reply("Yo")], "images": ["imgs/1.jpg"]}])
    )
    out = tmp_path / "out.jsonl"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.curate.ingest]\nmedia_dir = "data"\n')
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", str(src), "-o", str(out)])
    assert exit_.value.code == 0
    url = json.loads(out.read_text())["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "data/imgs/1.jpg" and local_path(url, out).exists()
    res = curate.ingest(src, out, config={"ingest": {"media_dir": str(data)}})
    assert res.counts.kept == 1
    url = json.loads(out.read_text())["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "data/imgs/1.jpg"
