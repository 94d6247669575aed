"""validators/media.py: each finding on a real-shaped record that triggers it and one that
does not; OpenAI's image tokens in the token and cost figures; registration."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from curate.records import Example, Location, Severity
from curate.validate import validate_path
from curate.validators.base import ExampleRef
from curate.validators.format import OpenAIFormat
from curate.validators.media import (
    CODES,
    ImageExampleCount,
    Media,
    image_tokens,
    one_image_tokens,
    patch_tokens,
    tile_tokens,
)

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "fixtures" / "media"
DATA = MEDIA / "mllm" / "mllm_demo_data"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A data folder: the demo images, the corrupt ones, a grey PNG and a GIF."""
    for p in [*DATA.iterdir(), *(MEDIA / "mllm_broken").glob("*.*g"), MEDIA / "gray.png"]:
        shutil.copy(p, tmp_path / p.name)
    shutil.copy(MEDIA / "anim.gif", tmp_path / "anim.gif")
    return tmp_path


def img(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def chat(*parts: Any, role: str = "user", answer: str = "A square.") -> dict[str, Any]:
    content = list(parts) if not (len(parts) == 1 and isinstance(parts[0], str)) else parts[0]
    return {
        "messages": [{"role": role, "content": content}, {"role": "assistant", "content": answer}]
    }


def found(data: Any, folder: Path, target: str = "curate") -> list[tuple[str, str]]:
    ex = Example(data, Location(str(folder / "train.jsonl"), 4))
    return [(f.code, f.severity.value) for f in Media(target=target).check(ex)]


def data_url(fmt: str = "PNG", mode: str = "RGB", mime: str = "image/png") -> str:
    buf = io.BytesIO()
    Image.new(mode, (8, 8)).save(buf, fmt)
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode()


GOOD = [img("1.jpg"), {"type": "text", "text": "What is shown?"}]


def test_a_good_record_has_no_finding(folder: Path) -> None:
    assert found(chat(*GOOD), folder) == []
    assert found(chat(img(data_url()), {"type": "text", "text": "Hi"}), folder, "openai") == []
    assert found(chat("plain text, no tags"), folder, "openai") == []


def test_placeholder_unmatched(folder: Path) -> None:
    # the tag beside media elsewhere in the example: an error
    rec = chat(img("1.jpg"), {"type": "text", "text": "<image> and <image>?"})
    assert found(rec, folder) == [("media_placeholder_unmatched", "error")]
    # a tag and no media at all: a warning (it may be text)
    assert found(chat("<image>Who are they?"), folder) == [
        ("media_placeholder_unmatched", "warning")
    ]
    # one tag, one part of the kind: matched
    assert found(chat(img("1.jpg"), {"type": "text", "text": "<image>?"}), folder) == []
    # audio placeholder, no audio part
    rec = chat(
        {"type": "audio_url", "audio_url": {"url": "1.jpg"}}, {"type": "text", "text": "<video>"}
    )
    assert [c for c, _ in found(rec, folder)] == ["media_placeholder_unmatched"]


def test_part_invalid(folder: Path) -> None:
    assert found(chat({"type": "image_url", "image_url": {}}), folder) == [
        ("media_part_invalid", "error")
    ]
    assert found(chat(img("")), folder) == [("media_part_invalid", "error")]
    bare = {"type": "image_url", "image_url": "https://x/a.png"}
    assert found(chat(bare), folder) == [("media_part_invalid", "error")]
    assert found(chat(img("data:image/png;base64,%%%")), folder) == [
        ("media_part_invalid", "error")
    ]
    assert found(chat(img(data_url(), detail="ultra")), folder, "openai") == [
        ("media_part_invalid", "error")
    ]
    assert found(chat(img(data_url(), detail="high")), folder, "openai") == []


def test_file_missing_unreadable_undecodable(folder: Path) -> None:
    assert found(chat(img("missing.jpg")), folder) == [("media_file_missing", "error")]
    (folder / "adir").mkdir()
    assert found(chat(img("adir")), folder) == [("media_file_unreadable", "error")]
    assert found(chat(img("truncated.jpg")), folder) == [("media_file_undecodable", "error")]
    assert found(chat(img("not_an_image.png")), folder) == [("media_file_undecodable", "error")]
    assert found(chat(img("2.jpg")), folder) == []
    # audio / video: existence only (no decoder needed)
    (folder / "clip.mp3").write_bytes(b"ID3")
    audio = {"type": "audio_url", "audio_url": {"url": "clip.mp3"}}
    assert found(chat(audio), folder) == []
    audio = {"type": "audio_url", "audio_url": {"url": "gone.mp3"}}
    assert found(chat(audio), folder) == [("media_file_missing", "error")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_file_unreadable_permissions(folder: Path) -> None:
    p = folder / "locked.png"
    shutil.copy(folder / "3.png", p)
    p.chmod(0)
    assert found(chat(img("locked.png")), folder) == [("media_file_unreadable", "error")]


def test_probe_is_cached_by_path_size_and_mtime(folder: Path) -> None:
    p = folder / "x.png"
    shutil.copy(folder / "3.png", p)
    assert found(chat(img("x.png")), folder) == []
    p.write_bytes(b"broken now")  # another size and mtime: probed again
    assert found(chat(img("x.png")), folder) == [("media_file_undecodable", "error")]


def test_openai_rules(folder: Path) -> None:
    video = {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}
    assert found(chat(video), folder, "openai") == [("media_unsupported_by_target", "error")]
    assert found(chat(video), folder) == []
    rec = chat("Describe it.", answer="")
    rec["messages"][1]["content"] = [img(data_url())]
    assert found(rec, folder, "openai") == [("media_image_not_on_user", "error")]
    assert found(chat(img("1.jpg")), folder, "openai") == [("media_url_not_accepted", "error")]
    assert found(chat(img("s3://bucket/a.png")), folder, "openai") == [
        ("media_url_not_accepted", "error")
    ]
    assert found(chat(img("https://upload.wikimedia.org/a.jpg")), folder, "openai") == []
    gif = data_url("GIF", "P", "image/gif")
    assert found(chat(img(gif)), folder, "openai") == [
        ("media_image_format", "error"),
        ("media_image_format", "error"),
        ("media_image_mode", "error"),
    ]
    assert found(chat(img(data_url("PNG", "L"))), folder, "openai") == [
        ("media_image_mode", "error")
    ]
    assert found(chat(img(data_url("WEBP", "RGBA", "image/webp"))), folder, "openai") == []
    many = chat(*[img(data_url()) for _ in range(11)])
    assert found(many, folder, "openai") == [("media_too_many_images", "error")]
    assert found(chat(*[img(data_url()) for _ in range(10)]), folder, "openai") == []


def test_openai_image_too_large(folder: Path) -> None:
    big = Image.frombytes("RGB", (2200, 2200), os.urandom(2200 * 2200 * 3))
    big.save(folder / "big.png")
    assert (folder / "big.png").stat().st_size > 10 * 1024 * 1024
    codes = [c for c, _ in found(chat(img("big.png")), folder, "openai")]
    assert codes == ["media_url_not_accepted", "media_image_too_large"]
    assert found(chat(img("big.png")), folder) == []


def test_too_many_image_examples_is_a_file_level_check() -> None:
    cv = ImageExampleCount(limit=2)
    ex = Example(chat(img("https://x/a.png")), Location("t.jsonl", 1))
    text = Example(chat("hi"), Location("t.jsonl", 2))
    for i, e in enumerate([ex, text, ex, ex]):
        list(cv.add(ExampleRef(str(i), Location("t.jsonl", i + 1), i), cv.features(e)))
    (f,) = cv.finish()
    assert f.code == "media_too_many_image_examples" and "3 examples" in f.message
    cv = ImageExampleCount(limit=3)
    for i, e in enumerate([ex, text, ex, ex]):
        list(cv.add(ExampleRef(str(i), Location("t.jsonl", i + 1), i), cv.features(e)))
    assert list(cv.finish()) == []


def test_preference_records_are_checked() -> None:
    rec = {
        "input": {"messages": [{"role": "user", "content": [img("nope.png")]}]},
        "preferred_output": [{"role": "assistant", "content": "<image>"}],
        "non_preferred_output": [{"role": "assistant", "content": "no"}],
    }
    ex = Example(rec, Location("/tmp/p.jsonl", 1))
    codes = sorted(f.code for f in Media().check(ex))
    assert codes == ["media_file_missing", "media_placeholder_unmatched"]


def test_every_code_is_documented() -> None:
    doc = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"`{code}`" in doc, code


# -- tokens ------------------------------------------------------------------------------


def test_tile_and_patch_formulas_match_openais_examples() -> None:
    assert tile_tokens(1024, 1024, "high", 85, 170) == 765
    assert tile_tokens(2048, 4096, "high", 85, 170) == 1105
    assert tile_tokens(4096, 8192, "low", 85, 170) == 85
    assert tile_tokens(500, 500, "high", 85, 170) == 255  # small images are not upscaled
    assert patch_tokens(1024, 1024, 1.0) == 1024
    assert patch_tokens(1800, 2400, 1.0) == 1452
    assert one_image_tokens(1024, 1024, "high", "gpt-4o-mini") == 2833 + 4 * 5667
    assert one_image_tokens(None, None, "high", "gpt-4o") == 85  # remote: the lower bound


def test_image_tokens_in_validate_totals_and_cost(tmp_path: Path) -> None:
    big = Image.new("RGB", (1024, 1024), (0, 90, 200))
    big.save(tmp_path / "sq.png")
    rows = [
        chat(img("sq.png", detail="high"), {"type": "text", "text": "Colour?"}, answer="Blue."),
        chat({"type": "text", "text": "Colour?"}, answer="Blue."),
    ]
    p = tmp_path / "t.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ex = Example(rows[0], Location(str(p), 1))
    assert image_tokens(ex, "gpt-4o") == 765
    assert image_tokens(ex, "gpt-4.1-mini") == 1659  # 1,024 patches x 1.62
    cur = validate_path([p], model="gpt-4o", target="curate", workers=1)
    oai = validate_path([p], model="gpt-4o", target="openai", workers=1)
    assert list(oai.total.totals) == [cur.total.totals[0] + 765, cur.total.totals[1]]
    assert oai.tokens_total == cur.tokens_total + 765
    costs = [r.billing(r.total)["estimated_cost_usd"] for r in (cur, oai)]
    assert costs[1] > costs[0]


def test_media_parts_are_not_counted_as_text() -> None:
    """A base64 data URL is not text the model reads: the text count is the same with or
    without the image."""
    from curate.tokens import count_example

    with_img = chat(img(data_url()), {"type": "text", "text": "Colour?"})["messages"]
    without = chat({"type": "text", "text": "Colour?"})["messages"]
    assert count_example(with_img).total == count_example(without).total


def test_format_accepts_canonical_media_parts() -> None:
    for part in (
        img("a.png"),
        {"type": "audio_url", "audio_url": {"url": "a.wav"}},
        {"type": "video_url", "video_url": {"url": "a.mp4"}},
    ):
        ex = Example(chat(part, {"type": "text", "text": "What?"}), Location("f.jsonl", 1))
        assert [f.code for f in OpenAIFormat().check(ex)] == []


def test_validate_registers_media_checks(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(chat(img("gone.png"))) + "\n")
    rep = validate_path([p], workers=1)
    assert [f.code for f in rep.findings] == ["media_file_missing"]
    assert rep.findings[0].severity is Severity.ERROR and rep.n_invalid == 1
