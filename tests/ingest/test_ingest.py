"""ingest_paths / detect / read: accounting, determinism, ids, atomic output, samples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate.ingest import default_rejects_path, detect, ingest_paths, read
from curate.records import CurateError, InputError
from curate.validate import validate_path
from tests.ingest.helpers import FIXTURES, lines, run

SAMPLES = FIXTURES / "samples"  # public sample files (fixtures/SOURCES.md)

#: sample file -> (records in it, format detected, chat output?)
SAMPLE_FILES = {
    "alpaca_en_demo.json": (999, "alpaca", True),
    "glaive_toolcall_en_demo.json": (300, "sharegpt", True),
    "dpo_en_demo.json": (300, "sharegpt_preference", False),
    "dummy_conversation.json": (500, "sharegpt", True),
    "trl_preference_zh.jsonl": (10, "preference", False),
    "toy_chat_fine_tuning.jsonl": (5, "openai", True),
}


def _canonical(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True)


@pytest.mark.parametrize("name", sorted(SAMPLE_FILES))
def test_public_samples_ingest_with_every_record_accounted_for(name: str, tmp_path: Path) -> None:
    src = SAMPLES / name
    n, fmt, chat = SAMPLE_FILES[name]
    out = tmp_path / "out.jsonl"
    rep = ingest_paths([src], out)
    assert (rep.read, rep.written, rep.rejected) == (n, n, 0)
    assert dict(rep.by_format) == {fmt: n}
    assert not default_rejects_path(out).exists()
    rows = lines(out)
    assert len(rows) == n
    # duplicates keep both lines, and equal content gets equal ids
    if name.endswith(".json"):
        originals = json.loads(src.read_text(encoding="utf-8"))
        assert len({r["id"] for r in rows}) == len({_canonical(o) for o in originals})
    if chat:
        report = validate_path([out], workers=1)
        assert report.total.n_examples == n
        assert report.total.severity_counts.get("error", 0) == 0, report.total.findings_by_code
    else:
        assert all(
            set(r) >= {"id", "input", "preferred_output", "non_preferred_output"} for r in rows
        )


def test_rerun_is_byte_identical_and_ids_do_not_depend_on_the_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ingest_paths([FIXTURES / "alpaca" / "good.json"], a)
    ingest_paths([FIXTURES / "alpaca" / "good.json"], b)
    assert a.read_bytes() == b.read_bytes()
    # the same example from another format and file gets the same id
    chat = tmp_path / "chat.jsonl"
    first = lines(a)[0]
    chat.write_text(json.dumps({"messages": first["messages"], "source": "elsewhere"}) + "\n")
    again, _ = run(chat)
    assert again[0]["id"] == first["id"]
    assert again[0]["metadata"] == {"source": "elsewhere"}


def test_mixed_folder_with_bad_rows_balances(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    for sub in ("alpaca", "sharegpt", "dolly", "text"):
        shutil.copytree(FIXTURES / sub, folder / sub)
    out = tmp_path / "out" / "train.jsonl"
    rep = ingest_paths([folder], out)
    assert rep.read == rep.written + rep.rejected
    assert rep.read == (5 + 3 + 8 + 2) + (3 + 2 + 2 + 8) + (3 + 4) + 2
    rejects = lines(default_rejects_path(out))
    assert len(rejects) == rep.rejected == sum(rep.by_reason.values())
    assert set(rejects[0]) == {"source", "reason", "message", "record"}
    assert dict(rep.by_format) == {
        "alpaca": 5 + 3 + 8 + 2,
        "dolly": 7,
        "sharegpt": 3 + 2 + 2 + 8,
        "text": 2,
    }
    assert rep.by_reason["not_chat"] == 2
    assert len(lines(out)) == rep.written
    # a clean re-run removes the stale rejects file
    rep = ingest_paths([FIXTURES / "dolly" / "good.jsonl"], out)
    assert rep.rejected == 0 and rep.rejects is None
    assert not default_rejects_path(out).exists()


def test_errors_leave_the_old_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    with pytest.raises(InputError, match="ambiguous format"):
        ingest_paths(
            [FIXTURES / "dolly" / "good.jsonl", FIXTURES / "detect" / "ambiguous.jsonl"], out
        )
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_the_output_cannot_be_an_input(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    shutil.copy(FIXTURES / "dolly" / "good.jsonl", src)
    with pytest.raises(CurateError, match="the output output is also an input of ingest"):
        ingest_paths([src], src)
    # in a folder, the output and its rejects are skipped, not read back
    rep = ingest_paths([tmp_path], tmp_path / "out.jsonl")
    assert rep.read == 3
    rep = ingest_paths([tmp_path], tmp_path / "out.jsonl")
    assert rep.read == 3


def test_forced_format_and_custom_rejects_path(tmp_path: Path) -> None:
    out, rej = tmp_path / "o.jsonl", tmp_path / "r" / "rej.jsonl"
    rep = ingest_paths([FIXTURES / "dolly" / "good.jsonl"], out, format="alpaca", rejects=rej)
    assert (rep.written, rep.rejected, dict(rep.by_reason)) == (0, 3, {"missing_field": 3})
    assert (
        lines(rej)[0]["message"]
        == 'field "output" is missing (have: category, context, instruction, response)'
    )
    assert lines(rej)[0]["source"]["format"] == "alpaca"


def test_system_prompt_is_added_where_missing(tmp_path: Path) -> None:
    good, _ = run(FIXTURES / "sharegpt" / "role_content.jsonl", system="Be kind.")
    assert good[0]["messages"][0]["content"] == "You are a helpful travel agent."
    good, _ = run(FIXTURES / "preference" / "trl_conversational.jsonl", system="Be kind.")
    assert good[0]["input"]["messages"][0] == {"role": "system", "content": "Be kind."}


def test_detect_messages() -> None:
    d = detect([{"conversations": [], "chosen": {}, "rejected": {}}])
    assert (d.format, d.reason) == (
        "sharegpt_preference",
        "keys chosen, conversations, rejected in 1 of 1 sampled records",
    )
    assert detect([{"instruction": "a", "output": "b"}, {"foo": 1}]).format == "alpaca"
    with pytest.raises(InputError) as e:
        detect([{"question_text": "a"}], "f.jsonl")
    assert str(e.value).startswith(
        "f.jsonl: unknown format: the first record has keys question_text. Known formats: alpaca "
        "(instruction, output); "
    )
    assert str(e.value).endswith(
        "Pass --format NAME, or map columns with --map user=COLUMN --map assistant=COLUMN."
    )
    with pytest.raises(InputError, match="none of the first 2 records is a JSON object"):
        detect([1, "x"], "f.jsonl")


def test_unparseable_and_empty_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        list(read(FIXTURES / "detect" / "not_json.jsonl"))
    assert str(e.value) == (
        f"{FIXTURES / 'detect' / 'not_json.jsonl'}:1: cannot detect the format: none of the "
        "first 2 records parses (invalid JSON at column 1: Expecting value "
        "(near 'this is not JSON'))."
    )
    with pytest.raises(
        InputError, match=r"no records found in .*empty.jsonl \(empty files\); nothing written"
    ):
        ingest_paths([FIXTURES / "detect" / "empty.jsonl"], tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()
    with pytest.raises(InputError, match="unknown format 'chatml'; choose one of: alpaca"):
        list(read(FIXTURES / "dolly" / "good.jsonl", format="chatml"))


def test_big_alpaca_array_streams(tmp_path: Path) -> None:
    rows = [
        {
            "instruction": f"Question {i}?",
            "input": "" if i % 2 else f"ctx {i}",
            "output": f"Answer {i}.",
        }
        for i in range(3000)
    ]
    src = tmp_path / "big.json"
    src.write_text(json.dumps(rows, indent=1))
    rep = ingest_paths([src], tmp_path / "o.jsonl")
    assert (rep.read, rep.written) == (3000, 3000)
    assert lines(tmp_path / "o.jsonl")[-1]["source"]["row"] == 3000


GOOD = [
    "alpaca/good.json",
    "dolly/good.jsonl",
    "sharegpt/fastchat.json",
    "sharegpt/glaive_tools.json",
    "sharegpt/role_content.jsonl",
    "sharegpt_preference/good.json",
    "prompt_completion/openai_legacy.jsonl",
    "prompt_completion/trl_conversational.jsonl",
    "preference/trl_standard.jsonl",
    "preference/implicit.jsonl",
    "preference/orca_style.jsonl",
    "openai_dpo/good.jsonl",
    "openai_chat/tools.jsonl",
]


@pytest.mark.parametrize("name", GOOD)
def test_round_trip_reingesting_the_output_changes_nothing(name: str, tmp_path: Path) -> None:
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    ingest_paths([FIXTURES / name], once)
    rep = ingest_paths([once], twice)
    assert rep.rejected == 0
    a, b = lines(once), lines(twice)
    assert [r["id"] for r in a] == [r["id"] for r in b]
    for x, y in zip(a, b, strict=True):
        strip = ("id", "source", "metadata")
        assert {k: v for k, v in x.items() if k not in strip} == {
            k: v for k, v in y.items() if k not in strip
        }
        # provenance survives: the first run's source moves under metadata
        assert y["metadata"]["source"] == x["source"]
        assert "id" not in y["metadata"]
    chat = "input" not in a[0]
    assert set(rep.by_format) == {"openai" if chat else "openai_dpo"}


def test_empty_csv_counts_as_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    seen = []
    rep = ingest_paths(
        [tmp_path / "empty.csv", FIXTURES / "columns" / "qa.csv"],
        tmp_path / "o.jsonl",
        maps={"user": "question", "assistant": "answer"},
        on_file=seen.append,
    )
    assert [(f.format, f.read) for f in seen] == [(None, 0), ("columns", 4)]
    assert rep.read == 4


def test_nasty_records_are_rejected_not_crashed(tmp_path: Path) -> None:
    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    deep = {
        "messages": [{"role": "user", "content": "x", "extra": json.loads("[" * 600 + "]" * 600)}]
    }
    huge = {"messages": [{"role": "user", "content": "x" * 2_000_000}, ok["messages"][1]]}
    p = tmp_path / "nasty.jsonl"
    p.write_text(
        "\n".join(
            [
                json.dumps(ok),
                json.dumps(deep),
                "[" * 100_000,
                "null",
                '{"messages": null}',
                json.dumps(huge),
            ]
        )
    )
    good, bad = run(p)
    assert [g["source"]["line"] for g in good] == [1, 6]
    assert [(r.source.line, r.reason, r.message) for r in bad] == [
        (2, "nested_too_deep", "record is nested too deeply to hash"),
        (3, "invalid_json", "invalid JSON: nested too deeply to parse"),
        (4, "not_an_object", "record is a JSON null, not an object"),
        (5, "missing_field", 'field "messages" is null'),
    ]


def test_compressed_output_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"curate writes plain JSONL; name it \.jsonl"):
        ingest_paths([FIXTURES / "dolly" / "good.jsonl"], tmp_path / "o.jsonl.gz")
