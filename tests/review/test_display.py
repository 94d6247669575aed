"""Review display (issue 21): reasoning apart from the answer, readable tool calls, images in
Argilla's image fields; only the fields the data needs. The last tests push to the real local
Argilla server (tests/review/conftest.py)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from curate.records import Example, Location
from curate.review import display
from curate.review import settings as S
from curate.review.push import build_record, push, request_slices
from tests.conftest import FIXTURES

FILE = FIXTURES / "review/display/display.jsonl"
ALL = S.Layout(reasoning=True, tools=True, images=4)


def records() -> dict[str, dict[str, Any]]:
    rows = [json.loads(x) for x in FILE.read_text(encoding="utf-8").splitlines()]
    return {r["id"]: r for r in rows}


def fields_of(rid: str, layout: S.Layout = ALL, **kw: Any) -> dict[str, Any]:
    rec = records()[rid]
    return display.render(rec["messages"], rec.get("tools"), layout, str(FILE), **kw)


def contents(fields: dict[str, Any]) -> list[str]:
    return [m["content"] for m in fields[S.CONVERSATION]]


def test_reasoning_is_shown_apart_from_the_answer() -> None:
    f = fields_of("d-reason")
    conv = contents(f)
    assert conv[1] == (
        "[reasoning: assistant turn 1, 75 characters, in the Reasoning field]\n"
        "There are 10,080 minutes in a week."
    )
    assert conv[3].endswith("\n604,800 seconds.") and "7 * 24" not in conv[1]
    assert f[S.REASONING] == (
        "── assistant turn 1 (message 2) ──\n"
        "A week has 7 days, a day 24 hours, an hour 60 minutes: 7 * 24 * 60 = 10080.\n\n"
        "── assistant turn 2 (message 4) ──\n10080 minutes * 60 = 604800."
    )
    # a dataset without the reasoning field: a clearly marked block before the answer
    plain = contents(fields_of("d-reason", S.Layout()))
    assert plain[3] == "[reasoning]\n10080 minutes * 60 = 604800.\n[/reasoning]\n604,800 seconds."
    assert S.REASONING not in fields_of("d-reason", S.Layout())
    # an inline <think> block (a file that was not ingested) is a trace too
    raw = [{"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}]
    shown = display.render(raw, None, ALL, "t.jsonl")
    assert shown[S.REASONING] == "── assistant turn 1 (message 1) ──\nadd"
    assert shown[S.CONVERSATION][0]["content"].endswith(" in the Reasoning field]\n4")
    # no trace, no field value (the field is optional)
    assert S.REASONING not in fields_of("d-plain")


def test_tool_calls_are_readable() -> None:
    f = fields_of("d-tools")
    conv = contents(f)
    assert conv[2] == (
        "[reasoning: assistant turn 1, 32 characters, in the Reasoning field]\n"
        '[tool call get_weather (id call_1)]\n{\n  "city": "Lima",\n  "unit": "celsius"\n}\n'
        '[tool call get_weather (id call_2)]\n{\n  "city": "Quito",\n  "unit": "celsius"\n}'
    )
    assert (
        conv[3]
        == '[tool result of get_weather (call call_1)]\n{\n  "temp_c": 19,\n  "sky": "overcast"\n}'
    )
    assert conv[4].startswith("[tool result of get_weather (call call_2)]\n")
    assert f[S.TOOLS] == (
        "get_weather: Current weather of a city\nparameters: "
        + json.dumps(records()["d-tools"]["tools"][0]["function"]["parameters"], indent=2)
    )
    # arguments that are not JSON are shown as they are, and said so; a result answering
    # no call shown names the id
    odd = [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "x=1"}}]},
        {"role": "tool", "tool_call_id": "zz", "content": "done"},
    ]  # fmt: skip
    out = display.render(odd, None, S.Layout(), "t.jsonl")[S.CONVERSATION]
    assert out[0]["content"] == "[tool call f (id c9)] (arguments are not JSON)\nx=1"
    assert out[1]["content"] == "[tool result (call zz)]\ndone"


def test_images_go_to_image_fields_as_data_uris() -> None:
    f = fields_of("d-vision")
    cat = (FILE.parent / "img/cat.png").read_bytes()
    assert f["image_1"] == "data:image/png;base64," + base64.b64encode(cat).decode()
    assert contents(f)[0] == "[image 1: img/cat.png, in the Image 1 field]\nWhat animal is this?"
    g = fields_of("d-vision-2")
    assert g["image_1"].startswith("data:image/jpeg;base64,")
    assert g["image_2"] == f["image_1"]
    assert "image_3" not in g and "image_4" not in g  # missing, broken: named, not shown
    user2 = contents(g)[2]
    assert "[image 3: img/missing.png: not shown, file not found]" in user2
    assert "[image 4: img/broken.png: not shown, not a PNG, JPEG, GIF or WEBP image]" in user2
    assert (
        "[image 5: https://example.com/lima.jpg: not shown, the dataset has 4 image field(s)]"
        in user2
    )
    # a web URL is shown as it is; an image over the size cap is named with its size
    web = display.render(
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://e.org/a.png"}}]}],
        None, ALL, "t.jsonl",
    )  # fmt: skip
    assert web["image_1"] == "https://e.org/a.png"
    small = fields_of("d-vision", max_image_bytes=100)
    assert "image_1" not in small
    assert "not shown, 188 bytes, over the 100 bytes limit for review" in contents(small)[0]
    # a dataset without image fields names every image
    none = fields_of("d-vision", S.Layout())
    assert "no image field (push to a new --dataset to see images)" in contents(none)[0]


def test_a_decodable_header_is_not_enough(tmp_path: Path) -> None:
    bad = tmp_path / "half.png"
    bad.write_bytes((FILE.parent / "img/cat.png").read_bytes()[:40])  # truncated PNG
    value, why = display.image_value("half.png", tmp_path / "t.jsonl", 1 << 20)
    assert value is None and why.startswith("not decodable")


def test_only_the_fields_the_data_needs(tmp_path: Path) -> None:
    assert display.file_layout(FILE) == ALL
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps(records()["d-plain"]) + "\n")
    assert display.file_layout(plain) == S.Layout()
    assert display.file_layout(FIXTURES / "review/chat.jsonl") == S.Layout(tools=True)
    # a <think> in a user's question is not a trace; an empty tools list declares nothing
    noisy = tmp_path / "noisy.jsonl"
    noisy.write_text(
        json.dumps({"messages": [{"role": "user", "content": "what does <think> mean?"},
                                 {"role": "assistant", "content": "A tag."}], "tools": []})
        + "\n"
    )  # fmt: skip
    assert display.file_layout(noisy) == S.Layout()
    assert S.Layout(images=2).field_names() == ["image_1", "image_2"]


def test_build_record_and_request_slices() -> None:
    ex = Example(records()["d-vision"], Location(str(FILE), 3))
    rec = build_record(ex, [], tokens=5, layout=ALL)
    assert rec["fields"]["image_1"].startswith("data:image/png;base64,")
    assert set(rec["fields"]) == {S.CONVERSATION, "image_1", S.FINDINGS}
    plain = build_record(Example(records()["d-plain"], Location(str(FILE), 5)), [], tokens=5)
    assert set(plain["fields"]) == {S.CONVERSATION, S.FINDINGS}
    items = [rec] * 3
    assert request_slices(items) == [(0, 3)]
    assert request_slices(items, limit=len(rec["fields"]["image_1"])) == [(0, 1), (1, 2), (2, 3)]


# --------------------------------------------------------------------------- real server
@pytest.fixture
def display_dir(tmp_path: Path) -> Path:
    d = tmp_path / "display"
    shutil.copytree(FILE.parent, d)
    return d


def test_push_shows_reasoning_tools_and_images(
    client: Any, display_dir: Path, dataset_name: str
) -> None:
    res = push(display_dir / "display.jsonl", dataset=dataset_name, client=client)
    assert (res.pushed, res.rejected, res.notes) == (5, 0, [])
    assert res.fields == [S.CONVERSATION, "image_1", "image_2", "image_3", "image_4",
                          S.REASONING, S.TOOLS, S.FINDINGS]  # fmt: skip
    ds = client.datasets(dataset_name)
    assert [f.name for f in ds.settings.fields] == res.fields
    assert {f.name: type(f).__name__ for f in ds.settings.fields}["image_1"] == "ImageField"
    got = {r.id: r for r in ds.records}
    # the SDK hands data-URI images back decoded (PIL images): the very pictures pushed
    cat, field = got["d-vision"].fields["image_1"], got["d-vision-2"].fields["image_1"]
    assert (cat.format, cat.size) == ("PNG", (32, 24))
    assert (field.format, field.size) == ("JPEG", (40, 30))
    assert got["d-vision-2"].fields.get("image_3") is None
    assert got["d-reason"].fields[S.REASONING].startswith("── assistant turn 1 (message 2) ──")
    assert got["d-reason"].fields[S.CONVERSATION][1].content.endswith("10,080 minutes in a week.")
    tools = got["d-tools"].fields[S.CONVERSATION]
    assert tools[3].role == "tool" and tools[3].content.startswith("[tool result of get_weather")
    assert got["d-tools"].fields[S.TOOLS].startswith("get_weather: Current weather of a city")
    assert got["d-plain"].fields.get(S.REASONING) is None


def test_push_without_them_adds_no_field_and_an_old_dataset_says_what_it_lacks(
    client: Any, display_dir: Path, dataset_name: str
) -> None:
    plain = display_dir / "plain.jsonl"
    plain.write_text(json.dumps(records()["d-plain"]) + "\n")
    res = push(plain, dataset=dataset_name, client=client)
    assert res.fields == [S.CONVERSATION, S.FINDINGS] and res.pushed == 1
    # the same dataset now gets data with reasoning, tools and images: Argilla adds no field
    # to a published dataset, so they are shown as text and the result says so
    again = push(display_dir / "display.jsonl", dataset=dataset_name, client=client)
    assert again.pushed == 5 and again.rejected == 0
    assert again.fields == [S.CONVERSATION, S.FINDINGS]
    assert len(again.notes) == 3 and all("new --dataset" in n for n in again.notes)
    got = {r.id: r for r in client.datasets(dataset_name).records}
    conv = got["d-reason"].fields[S.CONVERSATION]
    assert conv[1].content.startswith("[reasoning]\nA week has 7 days")
    assert (
        "not shown, the dataset has no image field"
        in got["d-vision"].fields[S.CONVERSATION][0].content
    )
