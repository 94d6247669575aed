"""``curate ingest`` end to end through the real entry point (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curate.cli import main
from curate.cli_ingest import parse_maps
from curate.records import InputError
from tests.ingest.helpers import FIXTURES


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["ingest", *args])
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_json_contract(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    code, stdout, _ = cli(capsys, str(FIXTURES / "alpaca" / "bad.json"), "-o", str(out), "--json")
    assert code == 1
    rep = json.loads(stdout)
    assert {k: rep[k] for k in ("read", "written", "rejected", "by_format", "by_reason")} == {
        "read": 8,
        "written": 2,
        "rejected": 6,
        "by_format": {"alpaca": 8},
        "by_reason": {
            "empty_field": 2,
            "invalid_json": 1,
            "missing_field": 1,
            "not_an_object": 1,
            "wrong_type": 1,
        },
    }
    assert rep["rejects"] == str(tmp_path / "o.rejected.jsonl")
    code, _, _ = cli(
        capsys, str(FIXTURES / "alpaca" / "bad.json"), "-o", str(out), "--allow-rejects"
    )
    assert code == 0


def test_human_output_names_format_and_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, stdout, stderr = cli(
        capsys, str(FIXTURES / "dolly" / "good.jsonl"), "-o", str(tmp_path / "o.jsonl")
    )
    assert code == 0
    assert (
        "good.jsonl: dolly (keys instruction, response in 3 of 3 sampled records); read 3" in stderr
    )
    assert stdout.strip() == f"read 3, written 3 to {tmp_path / 'o.jsonl'}, rejected 0"


def test_column_map_and_system(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    code, stdout, _ = cli(
        capsys,
        str(FIXTURES / "columns" / "qa.parquet"),
        "-o",
        str(out),
        "--map",
        "user=question",
        "--map",
        "assistant=answer",
        "--system",
        "Answer briefly.",
        "--json",
    )
    assert code == 0 and json.loads(stdout)["by_format"] == {"columns": 2}
    first = json.loads(out.read_text().splitlines()[0])
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["detect/ambiguous.jsonl"],
            "ambiguous format: the records fit alpaca (instruction, output) and dolly",
        ),
        (
            ["detect/unknown.jsonl"],
            "unknown format: the first record has keys answer_text, question_text",
        ),
        (["detect/not_json.jsonl"], "cannot detect the format: none of the first 2 records parses"),
        (["detect/nope.jsonl"], "no such file"),
        (
            ["dolly/good.jsonl", "--format", "chatml"],
            "unknown format 'chatml'; choose one of: alpaca",
        ),
        (["columns/qa.csv", "--map", "user"], "--map 'user': expected TARGET=COLUMN"),
        (
            ["columns/qa.csv", "--map", "user=nope", "--map", "assistant=answer"],
            'column "nope" not found',
        ),
    ],
)
def test_bad_inputs_exit_2_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    code, _stdout, stderr = cli(
        capsys, str(FIXTURES / args[0]), *args[1:], "-o", str(tmp_path / "o.jsonl")
    )
    assert code == 2
    assert "Traceback" not in stderr
    assert message in " ".join(stderr.split())
    assert not (tmp_path / "o.jsonl").exists()


def test_list_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = cli(capsys, "--list-formats")
    assert code == 0
    assert stdout.splitlines()[0].split()[0] == "alpaca"
    assert len(stdout.splitlines()) == 12


def test_parse_maps_rejects_duplicates() -> None:
    with pytest.raises(InputError, match="--map user given twice"):
        parse_maps(["user=a", "user=b"])


def test_skipped_files_of_a_folder_are_summarised() -> None:
    """A multimodal folder holds thousands of images: one line for them, and at most ten
    lines for other skipped files (``--json`` lists every one)."""
    from curate.cli_ingest import skipped_lines

    images = [f"d/img/{i}.jpg" for i in range(5000)] + ["d/clip.MP4"]
    other = [f"d/notes{i}.md" for i in range(12)]
    lines = skipped_lines(images + other)
    assert lines[:10] == [f"d/notes{i}.md: skipped" for i in range(10)]
    assert lines[10:] == [
        "... and 2 more skipped (--json lists them)",
        "skipped 5,001 media files (.jpg 5,000, .mp4 1): the records refer to them",
    ]
    assert skipped_lines([]) == []
