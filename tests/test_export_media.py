"""Media (canonical image_url/audio_url/video_url parts) through every export (issue 21):
files copied once into OUTDIR/media/ (or rewritten, or embedded), paths valid relative to
the output, a missing file a reject with a reason, and each trainer's own shape."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from curate.export import ExportError, MediaPlan, convert, llamafactory_entry, to_sharegpt
from curate.media import iter_media, local_path
from curate.split import SplitOptions, split_path

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "export_media"
CHAT = FIX / "chat.jsonl"
IMG = FIX / "img"


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def record(rid: str) -> dict:
    return next(r for r in rows(CHAT) if r["id"] == rid)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


# -- converters ----------------------------------------------------------------------------


def test_trl_uses_its_vision_format() -> None:
    out = convert(record("image-2"), "trl")
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "Which of these two is darker?"},
        {"type": "image"},
        {"type": "image"},
    ]
    assert out["images"] == ["img/red.png", "img/blue.png"]  # no media plan: as given
    assert out["messages"][1] == {
        "role": "assistant",
        "content": "The second one, the blue square.",
    }


def test_llamafactory_formats_put_placeholders_at_the_part_positions() -> None:
    sg = to_sharegpt(record("image-2"))
    assert sg["conversations"][0] == {
        "from": "human",
        "value": "Which of these two is darker?<image><image>",
    }
    assert sg["images"] == ["img/red.png", "img/blue.png"]
    first = to_sharegpt(record("image-1"))
    assert first["conversations"][0]["value"] == "<image>What color is this?"
    mixed = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Listen"},
                    {"type": "audio_url", "audio_url": {"url": "a.wav"}},
                    {"type": "text", "text": "then watch"},
                    {"type": "video_url", "video_url": {"url": "v.mp4"}},
                ],
            },
            {"role": "assistant", "content": "Done."},
        ]
    }
    al = convert(mixed, "alpaca")
    assert al["instruction"] == "Listen<audio>then watch<video>"
    assert (al["audios"], al["videos"]) == (["a.wav"], ["v.mp4"])
    with pytest.raises(ExportError) as e:
        to_sharegpt(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [image("a.png"), {"type": "text", "text": "<image>?"}],
                    },
                    {"role": "assistant", "content": "x"},
                ]
            }
        )
    assert e.value.reason == "placeholder_in_text"


def test_openai_needs_urls_or_data_uris(tmp_path: Path) -> None:
    rec = record("image-1")
    check = MediaPlan(str(CHAT), None, "copy")
    with pytest.raises(ExportError) as e:
        convert(rec, "openai", media=check)
    assert e.value.reason == "media_not_uploadable"
    assert "--media embed" in str(e.value)
    out = convert(rec, "openai", media=MediaPlan(str(CHAT), str(tmp_path), "embed"))
    url = out["messages"][0]["content"][0]["image_url"]["url"]
    head, _, body = url.partition(",")
    assert head == "data:image/png;base64"
    assert base64.b64decode(body) == (IMG / "red.png").read_bytes()
    remote = {"messages": [{"role": "user", "content": [image("https://x.test/a.png")]}]}
    assert convert(remote, "openai", media=check) == remote  # a URL OpenAI can fetch
    audio = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "audio_url", "audio_url": {"url": "https://x/a"}}],
            }
        ]
    }
    with pytest.raises(ExportError) as e:
        convert(audio, "openai", media=check)
    assert e.value.reason == "media_not_supported"


def test_a_missing_or_unreadable_file_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    for fmt in ("openai", "trl", "hf", "sharegpt", "alpaca"):
        with pytest.raises(ExportError) as e:
            convert(record("image-missing"), fmt, media=MediaPlan(str(CHAT), None, "embed"))
        assert e.value.reason == "media_missing", fmt
        assert "img/missing.png" in str(e.value)
    (tmp_path / "dir.png").mkdir()
    rec = {"messages": [{"role": "user", "content": [image("dir.png")]}]}
    with pytest.raises(ExportError) as e:
        convert(rec, "trl", media=MediaPlan(str(tmp_path / "in.jsonl"), None))
    assert e.value.reason == "media_unreadable"
    weird = {"messages": [{"role": "user", "content": [{"type": "input_audio", "data": "x"}]}]}
    with pytest.raises(ExportError) as e:
        convert(weird, "trl")
    assert e.value.reason == "content_not_text"


def test_llamafactory_entry_declares_the_media_columns() -> None:
    e = llamafactory_entry("sharegpt", "sft", "train.jsonl", fields={"image", "video", "tools"})
    assert e["columns"] == {
        "messages": "conversations",
        "system": "system",
        "tools": "tools",
        "images": "images",
        "videos": "videos",
    }
    a = llamafactory_entry("alpaca", "sft", "train.jsonl", fields={"audio"})
    assert a["columns"]["audios"] == "audios" and "images" not in a["columns"]
    assert llamafactory_entry("trl", "sft", "train.jsonl", fields={"image"}) == {}


# -- through curate split ----------------------------------------------------------------------


def exported_urls(out: Path, fmt: str) -> list[str]:
    urls = []
    for name in ("train.jsonl", "eval.jsonl"):
        for r in rows(out / name):
            if fmt == "openai":
                urls += [m.url for m in iter_media(r["messages"])]
            else:
                urls += r.get("images", []) + r.get("videos", []) + r.get("audios", [])
    return urls


@pytest.mark.parametrize("fmt", ["trl", "sharegpt", "alpaca"])
def test_copied_media_are_stored_once_and_resolve_from_the_output(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    m = split_path(CHAT, out, SplitOptions(eval_size=2, format=fmt, near=False))
    c = m["counts"]
    assert c["read"] == c["train"] + c["eval"] + c["rejected"]
    assert c["rejected_by_reason"]["media_missing"] == 1
    urls = exported_urls(out, fmt)
    assert len(urls) == 4  # image-1 (red), image-2 (red, blue), image-3 (green)
    for r in rows(out / "train.jsonl") + rows(out / "eval.jsonl"):
        # what LLaMA-Factory's mm_plugin checks: as many <image> as images, per record
        if fmt != "trl":
            text = json.dumps({k: v for k, v in r.items() if k != "images"})
            assert text.count("<image>") == len(r.get("images", []))
        else:
            n = sum(
                p.get("type") == "image"
                for m in r["messages"]
                if isinstance(m["content"], list)
                for p in m["content"]
            )
            assert n == len(r.get("images", []))
    names = sorted(p.name for p in (out / "media").iterdir())
    assert len(names) == 3  # red is used twice and stored once
    assert {u.split("/")[0] for u in urls} == {"media"}
    originals = {sha(IMG / f"{c}.png") for c in ("red", "blue", "green")}
    assert {sha(local_path(u, out / "train.jsonl")) for u in urls} == originals
    for n in names:  # content-addressed: the name is the content's hash
        assert sha(out / "media" / n).startswith(n.split(".")[0])
    md = m["carried"]["media"]
    assert (md["images"], md["media_files_copied"]) == (4, 3)
    assert m["files"]["media/"]["files"] == 3
    # the folder moves whole: the paths still resolve
    moved = tmp_path / "elsewhere"
    shutil.move(out, moved)
    assert all(local_path(u, moved / "train.jsonl").is_file() for u in urls)
    if fmt != "trl":
        info = json.loads((moved / "dataset_info.json").read_text())
        assert info["curate_train"]["columns"]["images"] == "images"


def test_rewrite_points_at_the_original_files(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    split_path(CHAT, out, SplitOptions(eval_size=2, format="sharegpt", media="rewrite", near=False))
    assert not (out / "media").exists()
    urls = exported_urls(out, "sharegpt")
    assert all(u.startswith("../") for u in urls)
    assert {local_path(u, out / "train.jsonl").resolve() for u in urls} == {
        (IMG / f"{c}.png").resolve() for c in ("red", "blue", "green")
    }


def test_openai_embed_export(tmp_path: Path) -> None:
    m = split_path(
        CHAT,
        tmp_path,
        SplitOptions(eval_size=2, format="openai", media="embed", reasoning="drop", near=False),
    )
    assert m["counts"]["rejected_by_reason"] == {"media_missing": 1}
    urls = exported_urls(tmp_path, "openai")
    assert len(urls) == 4 and all(u.startswith("data:image/png;base64,") for u in urls)
    assert not (tmp_path / "media").exists()
    assert m["carried"]["media"]["as"] == "local files embedded as data: URIs"


def test_hf_stores_images_in_the_dataset(tmp_path: Path) -> None:
    """Round trip with datasets: the images come back as the same pixels, the message
    parts in TRL's vision format, the traces and tools beside them."""
    import datasets
    from PIL import Image

    m = split_path(CHAT, tmp_path, SplitOptions(eval_size=2, format="hf", near=False))
    assert m["counts"]["rejected_by_reason"] == {"media_missing": 1}
    assert not (tmp_path / "media").exists()  # images live in the Parquet files
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    assert isinstance(dd["train"].features["images"], datasets.List)
    assert isinstance(dd["train"].features["images"].feature, datasets.Image)
    prov = {
        s: [p["id"] for p in rows(tmp_path / f"{s}.provenance.jsonl")] for s in ("train", "eval")
    }
    seen = 0
    for split in ("train", "eval"):
        for rid, row in zip(prov[split], dd[split], strict=True):
            src = record(rid)
            want = [local_path(x.url, CHAT) for x in iter_media(src["messages"])]
            assert len(row["images"]) == len(want)
            for got, path in zip(row["images"], want, strict=True):
                assert got.tobytes() == Image.open(path).convert(got.mode).tobytes()
                seen += 1
            parts = row["messages"][0]["content"]
            kinds = [p["type"] for p in parts]
            assert kinds == [
                "image" if p.get("type") == "image_url" else "text"
                for p in (
                    src["messages"][0]["content"]
                    if isinstance(src["messages"][0]["content"], list)
                    else [{"type": "text"}]
                )
            ]
            traces = [x.get("reasoning_content") for x in src["messages"]]
            assert [x["reasoning_content"] for x in row["messages"]] == traces
    assert seen == 4
    pq = datasets.load_dataset(
        "parquet",
        data_files={"train": str(tmp_path / "train.parquet")},
        cache_dir=str(tmp_path / "cache"),
    )
    assert isinstance(pq["train"].features["images"].feature, datasets.Image)


def test_sharegpt_export_with_images_reingests_to_the_same_pictures(tmp_path: Path) -> None:
    """Round trip through curate ingest: the placeholders become image parts again at the
    same positions, and their urls name files with the same bytes as the originals."""
    from curate.cli import main

    src = tmp_path / "in.jsonl"
    keep = [r for r in rows(CHAT) if r["id"].startswith("image-") and r["id"] != "image-missing"]
    for r in keep:  # the input is in another folder than the images: absolute urls
        for m in r["messages"]:
            if isinstance(m["content"], list):
                for p in m["content"]:
                    if p["type"] == "image_url":
                        p["image_url"]["url"] = str(FIX / p["image_url"]["url"])
    src.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
    split_path(src, tmp_path / "sg", SplitOptions(eval_size=1, format="sharegpt", near=False))
    back = tmp_path / "back" / "all.jsonl"
    for s in ("train", "eval"):
        with pytest.raises(SystemExit) as e:
            main(["ingest", str(tmp_path / "sg" / f"{s}.jsonl"), "-o", str(back.with_stem(s))])
        assert int(e.value.code or 0) == 0
    got = {}
    for s in ("train", "eval"):
        prov = rows(tmp_path / "sg" / f"{s}.provenance.jsonl")
        for p, r in zip(prov, rows(back.with_stem(s)), strict=True):
            got[p["id"]] = r
    assert set(got) == {r["id"] for r in keep}

    def shape(msgs: list[dict], jsonl: Path) -> list:
        out = []
        for m in msgs:
            c = m["content"]
            if isinstance(c, list):
                c = [
                    ("image", sha(local_path(p["image_url"]["url"], jsonl)))
                    if p["type"] == "image_url"
                    else ("text", p["text"])
                    for p in c
                ]
            out.append((m["role"], c, m.get("reasoning_content")))
        return out

    for r in keep:  # both ingest outputs are in back/: their urls resolve from there
        assert shape(got[r["id"]]["messages"], back) == shape(r["messages"], src), r["id"]


def test_data_uris_become_files_for_trainers_that_read_files(tmp_path: Path) -> None:
    """An OpenAI vision file (base64 data: URIs) exported for LLaMA-Factory: the images
    are decoded into media/ once each (the same bytes), and a URI that does not decode is
    a reject."""
    emb = tmp_path / "emb"
    split_path(
        CHAT,
        emb,
        SplitOptions(eval_size=2, format="openai", media="embed", reasoning="drop", near=False),
    )
    src = tmp_path / "vision.jsonl"
    good = rows(emb / "train.jsonl") + rows(emb / "eval.jsonl")
    bad = {
        "messages": [
            {"role": "user", "content": [image("data:image/png;base64,###")]},
            {"role": "assistant", "content": "x"},
        ]
    }  # fmt: skip
    src.write_text("".join(json.dumps(r) + "\n" for r in [*good, bad]), encoding="utf-8")
    out = tmp_path / "sg"
    m = split_path(src, out, SplitOptions(eval_size=2, format="sharegpt", near=False))
    assert m["counts"]["rejected_by_reason"] == {"media_unreadable": 1}
    urls = exported_urls(out, "sharegpt")
    assert len(urls) == 4 and all(u.startswith("media/") for u in urls)
    assert {sha(local_path(u, out / "train.jsonl")) for u in urls} == {
        sha(IMG / f"{c}.png") for c in ("red", "blue", "green")
    }
    assert m["carried"]["media"]["media_files_copied"] == 3
    # openai keeps data: URIs as they are
    again = split_path(src, tmp_path / "oa", SplitOptions(eval_size=2, near=False))
    assert all(u.startswith("data:image/png") for u in exported_urls(tmp_path / "oa", "openai"))
    assert again["counts"]["rejected_by_reason"] == {"media_unreadable": 1}


def test_a_vision_chat_template_renders_the_trl_export(tmp_path: Path) -> None:
    """The trl export's parts, rendered by a chat template written like Qwen2-VL's (an
    image pad per {"type": "image"} part, in place): one pad per file of ``images``, at
    the part's position."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "<eos>": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="<eos>")
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
        "{% for p in m['content'] %}{% if p['type'] == 'image' %}"
        "<|vision_start|><|image_pad|><|vision_end|>{% elif p['type'] == 'text' %}"
        "{{ p['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    )
    split_path(CHAT, tmp_path, SplitOptions(eval_size=2, format="trl", near=False))
    seen = 0
    for r in rows(tmp_path / "train.jsonl") + rows(tmp_path / "eval.jsonl"):
        text = fast.apply_chat_template(r["messages"], tokenize=False)
        assert text.count("<|image_pad|>") == len(r.get("images", []))
        seen += len(r.get("images", []))
        if r.get("images") and r["messages"][0]["content"][0]["type"] == "text":
            assert "darker?<|vision_start|>" in text  # the text, then the two images
    assert seen == 4


@pytest.mark.parametrize("fmt", ["trl", "openai", "hf", "sharegpt"])
def test_an_unknown_content_part_is_a_reject_in_the_scan(tmp_path: Path, fmt: str) -> None:
    plain = [r for r in rows(CHAT) if r["id"].startswith(("plain", "reason"))]
    odd = {
        "id": "odd",
        "messages": [
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA"}}]},
            {"role": "assistant", "content": "A beep."},
        ],
    }
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [*plain, odd]), encoding="utf-8")
    m = split_path(
        src, tmp_path / "o", SplitOptions(eval_size=1, format=fmt, reasoning="drop", near=False)
    )
    c = m["counts"]
    assert c["read"] == 6 == c["train"] + c["eval"] + c["rejected"]
    if fmt == "openai":  # kept as given: curate validate --target openai names it
        assert c["rejected"] == 0
    else:
        assert c["rejected_by_reason"] == {"content_not_text": 1}


def test_preference_records_with_images_and_traces(tmp_path: Path) -> None:
    """DPO pairs whose prompt holds an image and whose preferred reply has a trace."""
    import datasets

    recs = [
        {
            "id": f"p{i}",
            "input": {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            image(str(IMG / ("red.png" if i % 2 else "blue.png"))),
                            {"type": "text", "text": f"Which color is this ({i})?"},
                        ],
                    }
                ]
            },
            "preferred_output": [
                {"role": "assistant", "reasoning_content": f"I look at it ({i}).", "content": "Red"}
            ],
            "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
        }
        for i in range(6)
    ]  # fmt: skip
    src = tmp_path / "pref.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    for fmt in ("trl", "hf", "sharegpt", "alpaca"):
        out = tmp_path / fmt
        m = split_path(src, out, SplitOptions(eval_size=2, format=fmt, near=False))
        assert m["kind"] == "preference" and m["counts"]["rejected"] == 0, fmt
        assert m["carried"]["reasoning"]["messages_carried"] == 6
        assert m["carried"]["media"]["images"] == 6
        if fmt == "hf":
            dd = datasets.load_from_disk(str(out / "hf"))
            row = dd["train"][0]
            assert len(row["images"]) == 1 and row["images"][0].size == (8, 8)
            assert row["prompt"][0]["content"][0]["type"] == "image"
            assert row["chosen"][0]["reasoning_content"].startswith("I look at it")
            assert "axolotl.yaml" in m["carried"]["trainer_configs_not_written"]
            continue
        r = rows(out / "train.jsonl")[0]
        assert len(r["images"]) == 1 and r["images"][0].startswith("media/")
        if fmt == "trl":
            assert r["prompt"][0]["content"][0] == {"type": "image"}
            assert r["chosen"][0]["reasoning_content"].startswith("I look at it")
        elif fmt == "sharegpt":
            assert r["conversations"][0]["value"].startswith("<image>Which color")
            assert r["chosen"]["value"].startswith("<think>\nI look at it")
            entry = json.loads((out / "dataset_info.json").read_text())["curate_train"]
            assert entry["ranking"] is True and entry["columns"]["images"] == "images"
        else:
            assert r["instruction"].startswith("<image>Which color")
            assert r["chosen"].startswith("<think>\nI look at it")
        assert len(list((out / "media").iterdir())) == 2


def test_trl_prompt_completion_keeps_the_images() -> None:
    out = convert(record("image-3"), "trl", trl_shape="prompt-completion")
    assert out["prompt"][0]["content"] == [
        {"type": "image"},
        {"type": "text", "text": "Describe it."},
    ]
    assert out["completion"][0]["reasoning_content"].startswith("A small square")
    assert out["images"] == ["img/green.png"]


def test_trl_export_loads_its_images_with_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trl JSONL names images relative to the export folder: loaded from there and
    cast to datasets.Image, the rows hold the pictures TRL's vision collator takes."""
    import datasets
    from PIL import Image

    out = tmp_path / "trl"
    split_path(CHAT, out, SplitOptions(eval_size=2, format="trl", near=False))
    monkeypatch.chdir(out)
    ds = datasets.load_dataset(
        "json", data_files={"train": "train.jsonl"}, cache_dir=str(tmp_path / "cache")
    )["train"]
    ds = ds.cast_column("images", datasets.List(datasets.Image()))
    prov = [p["id"] for p in rows(out / "train.provenance.jsonl")]
    n = 0
    for rid, row in zip(prov, ds, strict=True):
        want = [local_path(x.url, CHAT) for x in iter_media(record(rid)["messages"])]
        for got, path in zip(row["images"] or [], want, strict=True):
            assert got.tobytes() == Image.open(path).convert(got.mode).tobytes()
            n += 1
    assert n == sum(len(r.get("images", [])) for r in rows(out / "train.jsonl")) > 0


def test_nothing_left_to_split_names_the_reject_reasons(tmp_path: Path) -> None:
    """Every example rejected by the export (local images for --format openai): the error
    counts the reasons and quotes the first one's advice, instead of only 'have 0'."""
    from curate.records import CurateError

    src = tmp_path / "imgs.jsonl"
    src.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": [image(str(IMG / "red.png"))]},
                        {"role": "assistant", "content": f"Red {i}."},
                    ]
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    with pytest.raises(CurateError) as e:
        split_path(str(src), tmp_path / "out", SplitOptions(format="openai", eval_size=1))
    msg = str(e.value)
    assert "3 of 3 examples were rejected (media_not_uploadable: 3)" in msg
    assert "--media embed" in msg
