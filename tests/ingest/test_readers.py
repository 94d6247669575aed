from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pytest

from curate.ingest import readers
from curate.ingest.readers import expand, jsonable, kind_of, read_raw
from curate.records import InputError
from tests.ingest.helpers import FIXTURES, run

ALPACA = FIXTURES / "alpaca" / "good.json"


def _rows(path: Path) -> list[tuple[int | None, object]]:
    return [
        (r.loc.row or r.loc.line, r.record if r.error is None else r.error[0])
        for r in read_raw(str(path))
    ]


def test_json_array_streams_across_tiny_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = json.loads(ALPACA.read_text())
    monkeypatch.setattr(readers, "CHUNK_CHARS", 7)
    got = list(read_raw(str(ALPACA)))
    assert [r.record for r in got] == whole
    assert [r.loc.row for r in got] == [1, 2, 3, 4, 5]


def test_json_array_numbers_split_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "n.json"
    p.write_text('[12345678, 2, {"a": [1, 2]}]')
    monkeypatch.setattr(readers, "CHUNK_CHARS", 3)
    assert [r.record for r in read_raw(str(p))] == [12345678, 2, {"a": [1, 2]}]


def test_json_array_resyncs_after_a_bad_element(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "bad.json"
    p.write_text('[{"a": 1}, {"a": 2 "b": 3}, {"a": 4}, nonsense, {"a": 5}]')
    monkeypatch.setattr(readers, "CHUNK_CHARS", 5)
    assert _rows(p) == [
        (1, {"a": 1}),
        (2, "invalid_json"),
        (3, {"a": 4}),
        (4, "invalid_json"),
        (5, {"a": 5}),
    ]


def test_json_with_bom_empty_array_and_jsonl_named_json(tmp_path: Path) -> None:
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"a": 1}]).encode())
    assert _rows(p) == [(1, {"a": 1})]
    (tmp_path / "empty.json").write_text("[ ]\n")
    assert _rows(tmp_path / "empty.json") == []
    (tmp_path / "lines.json").write_text('{"a": 1}\n{"a": 2}\n')
    assert _rows(tmp_path / "lines.json") == [(1, {"a": 1}), (2, {"a": 2})]
    (tmp_path / "pretty.json").write_text('{\n  "a": 1\n}\n')
    assert _rows(tmp_path / "pretty.json") == [(1, {"a": 1})]


def test_json_array_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "latin1.json"
    p.write_bytes('[{"instruction": "café", "output": "x"}]'.encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        list(read_raw(str(p)))


def test_jsonl_crlf_bom_blank_lines_and_bad_encoding(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n{"a": "caf\xe9"}\r\n{"a": 3}')
    assert _rows(p) == [(1, {"a": 1}), (3, "invalid_encoding"), (4, {"a": 3})]


@pytest.mark.parametrize("ext,opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compressed_inputs(tmp_path: Path, ext: str, opener) -> None:
    p = tmp_path / f"good.json{ext}"
    with opener(p, "wb") as f:
        f.write(ALPACA.read_bytes())
    good, bad = run(p)
    plain, _ = run(ALPACA)
    assert bad == [] and [g["id"] for g in good] == [g["id"] for g in plain]
    assert good[0]["source"]["file"] == str(p)


def test_zstandard_input(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    p = tmp_path / "qa.csv.zst"
    p.write_bytes(
        zstandard.ZstdCompressor().compress((FIXTURES / "columns" / "qa.csv").read_bytes())
    )
    good, bad = run(p, maps={"user": "question", "assistant": "answer"})
    assert len(good) == 3 and len(bad) == 1


def test_hf_save_to_disk_dataset_and_dict(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = json.loads(ALPACA.read_text())
    cols = {k: [r.get(k) for r in rows[:3]] for k in ("instruction", "input", "output")}
    ds = datasets.Dataset.from_dict(cols)
    ds.save_to_disk(str(tmp_path / "single"))
    good, bad = run(tmp_path / "single")
    assert bad == [] and [g["source"]["row"] for g in good] == [1, 2, 3]
    assert good[0]["source"]["file"].endswith(".arrow")
    plain, _ = run(ALPACA)
    assert [g["id"] for g in good] == [g["id"] for g in plain[:3]]

    dd = datasets.DatasetDict({"train": ds, "test": ds.select([0])})
    dd.save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(InputError) as e:
        list(run(tmp_path / "dict"))
    assert (
        str(e.value) == f"{tmp_path / 'dict'}: a saved dataset with splits train, test; "
        "pass --split train (or another)"
    )
    good, _ = run(tmp_path / "dict", split="test")
    assert len(good) == 1
    with pytest.raises(InputError, match=r"no split 'dev' \(have: train, test\)"):
        list(run(tmp_path / "dict", split="dev"))


def test_arrow_and_parquet_shards_in_a_directory(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    table = pa.table({"prompt": ["Hi", "Bye"], "completion": ["Hello", "Goodbye"]})
    (tmp_path / "shards").mkdir()
    with ipc.new_stream(str(tmp_path / "shards" / "a.arrow"), table.schema) as w:
        w.write_table(table)
    with ipc.new_file(str(tmp_path / "shards" / "b.arrow"), table.schema) as w:
        w.write_table(table)
    pq.write_table(table, tmp_path / "shards" / "c.parquet")
    (tmp_path / "shards" / "README.md").write_text("not data")
    good, bad = run(tmp_path / "shards")
    assert bad == [] and len(good) == 6
    assert [Path(g["source"]["file"]).name for g in good] == ["a.arrow"] * 2 + ["b.arrow"] * 2 + [
        "c.parquet"
    ] * 2


def test_expand_walks_directories_sorted_and_skips_rejects_and_unknown(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.jsonl").write_text("{}\n")
    (tmp_path / "a.json").write_text("[]")
    (tmp_path / "out.rejects.jsonl").write_text("{}\n")
    (tmp_path / ".hidden.jsonl").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("x")
    sources, skipped = expand([str(tmp_path)])
    assert [Path(s.path).relative_to(tmp_path).as_posix() for s in sources] == [
        "a.json",
        "b/z.jsonl",
    ]
    assert sorted(Path(s).name for s in skipped) == ["notes.txt", "out.rejects.jsonl"]
    sources, _ = expand([str(tmp_path / "**" / "*.jsonl")])
    assert [Path(s.path).name for s in sources] == ["z.jsonl"]  # earlier rejects are skipped
    with pytest.raises(InputError, match=r"no files match this pattern"):
        expand([str(tmp_path / "*.parquet")])
    with pytest.raises(InputError, match="no such file"):
        expand([str(tmp_path / "missing.jsonl")])


def test_unknown_extension_is_sniffed_or_refused(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text('[{"a": 1}]')
    assert _rows(tmp_path / "data.txt") == [(1, {"a": 1})]
    (tmp_path / "notes.md").write_text("# hello")
    with pytest.raises(InputError, match="cannot tell what kind of file this is"):
        expand([str(tmp_path / "notes.md")])


def test_a_broken_csv_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.csv"
    p.write_text('a,b\n1,2\n"unterminated,3\n4,5,6,7\n')
    with pytest.raises(InputError, match=r"broken\.csv: cannot read the table"):
        list(read_raw(str(p)))


def test_kind_of_and_jsonable() -> None:
    assert kind_of("x.ndjson.bz2") == "jsonl" and kind_of("x.tsv") == "tsv"
    import datetime

    assert jsonable({"d": datetime.date(2024, 1, 2), "b": b"hi", "m": [{"x": None}]}) == {
        "d": "2024-01-02",
        "b": "hi",
        "m": [{}],
    }


def test_hub_parquet_layout_needs_a_split(tmp_path: Path) -> None:
    import polars as pl

    (tmp_path / "ds" / "data").mkdir(parents=True)
    for split, n in (("train", 3), ("test", 1)):
        pl.DataFrame(
            {"prompt": [f"q{i}" for i in range(n)], "completion": ["a"] * n}
        ).write_parquet(tmp_path / "ds" / "data" / f"{split}-00000-of-00001.parquet")
    with pytest.raises(InputError) as e:
        expand([str(tmp_path / "ds")])
    assert str(e.value) == (
        f"{tmp_path / 'ds'}: holds shards of several splits (test, train); "
        "pass --split test (or another)"
    )
    good, bad = run(tmp_path / "ds", split="train")
    assert len(good) == 3 and bad == []
    sources, skipped = expand([str(tmp_path / "ds")], split="test")
    assert [Path(s.path).name for s in sources] == ["test-00000-of-00001.parquet"]
    assert [Path(s).name for s in skipped] == ["train-00000-of-00001.parquet"]


def test_json_array_element_nested_too_deep(tmp_path: Path) -> None:
    p = tmp_path / "deep.json"
    p.write_text('[{"a": 1}, ' + "[" * 100_000 + "]" * 100_000 + ', {"a": 2}]')
    rows = list(read_raw(str(p)))
    assert [(r.loc.row, r.error) for r in rows] == [
        (1, None),
        (2, ("invalid_json", "invalid JSON in array element: nested too deeply")),
        (3, None),
    ]


def test_symlink_loops_are_walked_once(tmp_path: Path) -> None:
    (tmp_path / "raw" / "sub").mkdir(parents=True)
    (tmp_path / "raw" / "sub" / "a.jsonl").write_text("{}\n")
    (tmp_path / "raw" / "sub" / "up").symlink_to("..")
    sources, _ = expand([str(tmp_path / "raw")])
    assert [Path(s.path).name for s in sources] == ["a.jsonl"]


def test_hub_split_names_beyond_train_and_test(tmp_path: Path) -> None:
    import polars as pl

    root = tmp_path / "ultrachat" / "data"
    root.mkdir(parents=True)
    df = pl.DataFrame({"prompt": ["q"], "completion": ["a"]})
    for name in ("train_sft-00000-of-00002", "train_sft-00001-of-00002", "test_sft-00000-of-00001"):
        df.write_parquet(root / f"{name}.parquet")
    with pytest.raises(InputError, match=r"several splits \(test_sft, train_sft\)"):
        expand([str(tmp_path / "ultrachat")])
    sources, _ = expand([str(tmp_path / "ultrachat")], split="train_sft")
    assert [Path(s.path).name for s in sources] == [
        "train_sft-00000-of-00002.parquet",
        "train_sft-00001-of-00002.parquet",
    ]


def test_a_malformed_element_holding_a_conversation_is_cut_after_its_end(tmp_path: Path) -> None:
    """Recovery resumes after the broken element's own brackets close, not at the first
    "}, {" inside its list of turns (which read a turn as the next record)."""
    from curate.ingest.readers import read_raw

    p = tmp_path / "a.json"
    p.write_text(
        '[{"q":"1"}, {"conversations": [{"from":"human","value":"x"}, '
        '{"from":"gpt","value":"y"}], "bad": tru}, {"q":"3"}, {"q":"4"}]'
    )
    rows = list(read_raw(str(p)))
    assert [(r.loc.row, r.error[0] if r.error else r.record) for r in rows] == [
        (1, {"q": "1"}),
        (2, "invalid_json"),
        (3, {"q": "3"}),
        (4, {"q": "4"}),
    ]
