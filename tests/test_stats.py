from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.records import Example, InputError, Location
from curate.stats import (
    COLUMNS,
    guess_script,
    input_format,
    iter_examples,
    schema,
    source_of,
    stats_rows,
    stats_table,
)
from curate.validate import validate_path
from tests.conftest import FIXTURES, write_jsonl

CLEAN = FIXTURES / "expectations" / "clean.jsonl"


def row_of(data: object, model: str = "gpt-3.5-turbo") -> dict:
    return stats_rows([Example(data, Location("t.jsonl", 1))], model=model)[0]


@pytest.mark.parametrize(
    "path",
    [
        CLEAN,
        FIXTURES / "openai" / "good.jsonl",
        FIXTURES / "openai" / "cookbook_errors.jsonl",
        FIXTURES / "openai" / "tools_and_extras_bad.jsonl",
        FIXTURES / "openai" / "cookbook_toy.jsonl",
    ],
    ids=lambda p: p.name,
)
@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-3.5-turbo"])
def test_token_totals_agree_with_validate(path: Path, model: str) -> None:
    report = validate_path([path], model=model, workers=1)
    table = stats_table([path], model=model)
    counted = table["tokens_total"].drop_nulls()
    assert counted.to_list() == list(report.total.totals)
    assert table["tokens_assistant"].filter(table["tokens_total"].is_not_null()).to_list() == list(
        report.total.assistant
    )


def test_row_columns_for_a_hand_checked_example() -> None:
    data = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C, sunny"},
            {"role": "assistant", "content": "It is 18C and sunny."},
        ],
        "metadata": {"source": "agent-logs"},
    }
    row = row_of(data)
    assert set(row) == set(COLUMNS)
    assert row["n_messages"] == 5
    assert row["n_turns"] == 1
    assert row["roles"] == "assistant+system+tool+user"
    assert row["has_system"] is True
    assert row["uses_tools"] is True
    assert row["n_tool_calls"] == 1
    assert row["chars_system"] == len("Be brief.")
    assert row["chars_user"] == len("Weather in Paris?")
    assert row["chars_assistant"] == len("It is 18C and sunny.")
    assert row["chars_tool"] == len("18C, sunny")
    assert row["source"] == "agent-logs"
    assert row["script"] == "latin"
    assert row["codes"] == ""
    assert row["n_errors"] == 0
    assert row["context_share"] == pytest.approx(row["tokens_total"] / 16385)


def test_rows_for_broken_records_carry_the_finding_codes() -> None:
    no_messages = row_of({"prompt": "hi"})
    assert no_messages["n_messages"] is None and no_messages["tokens_total"] is None
    assert "missing_messages_list" in no_messages["codes"].split(",")
    assert no_messages["n_errors"] >= 1
    not_object = row_of({"messages": ["hi", {"role": "user", "content": "x"}]})
    assert not_object["n_messages"] == 2 and not_object["tokens_total"] is None
    array = row_of([1, 2])
    assert array["codes"] == "data_type"


def test_too_long_is_a_code_in_the_table(tmp_path: Path) -> None:
    p = write_jsonl(
        tmp_path / "long.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "word " * 50},
                    {"role": "assistant", "content": "ok"},
                ]
            }
        ],
    )
    t = stats_table([p], max_tokens=20)
    assert t["codes"].to_list() == ["too_long"]
    assert t["context_share"][0] > 1


def test_script_guess() -> None:
    assert guess_script("Hello there") == "latin"
    assert guess_script("Привет, как дела?") == "cyrillic"
    assert guess_script("東京は晴れです") == "cjk"
    assert guess_script("مرحبا بالعالم") == "arabic"
    assert guess_script("12345 !!!") is None
    assert row_of({"messages": [{"role": "user", "content": "Привет"}]})["script"] == "cyrillic"


def test_source_of_prefers_metadata_then_source() -> None:
    assert source_of({"metadata": {"source": "m"}, "source": "s"}, "f.jsonl") == "m"
    assert source_of({"source": "s"}, "f.jsonl") == "s"
    assert source_of({"source": {"file": "raw/a.csv", "line": 3}}, "f.jsonl") == "a.csv"
    assert source_of({}, "data/f.jsonl") == "f.jsonl"


def test_invalid_lines_are_reported_not_skipped_silently(tmp_path: Path) -> None:
    p = tmp_path / "mixed.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    p.write_bytes(b"\xef\xbb\xbf" + good.encode() + b"\r\n{not json\r\n\r\n" + good.encode())
    found: list = []
    t = stats_table([p], on_finding=found.append)
    assert t["line"].to_list() == [1, 4]
    assert t.schema == pl.Schema(t.schema)
    assert [(f.code, f.location.line) for f in found] == [("invalid_json", 2)]
    with pytest.raises(InputError, match=r"mixed\.jsonl:2: invalid JSON .* Run curate validate"):
        stats_table([p])  # never skipped silently


def test_empty_file_gives_an_empty_table_with_the_schema(tmp_path: Path) -> None:
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    t = stats_table([p])
    assert t.height == 0
    assert t.columns == list(COLUMNS)


def test_parquet_and_hf_inputs_give_the_same_numbers(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [json.loads(line) for line in CLEAN.read_text().splitlines()]
    # one message with a name: Arrow adds name=None to every other message
    rows[0]["messages"][1]["name"] = "alice"
    src = write_jsonl(tmp_path / "src.jsonl", rows)
    pq = tmp_path / "data.parquet"
    pl.read_ndjson(src).write_parquet(pq)
    hf = tmp_path / "hf"
    datasets.Dataset.from_json(str(src)).save_to_disk(str(hf))
    assert input_format(pq) == "parquet" and input_format(hf) == "hf"
    cols = ["n_messages", "tokens_total", "chars_assistant", "has_system", "source", "id"]
    base = stats_table([src]).select(cols)
    for other in (pq, hf):
        t = stats_table([other])
        assert t.select(cols).equals(base), other
        assert t["row"].to_list()[:3] == [1, 2, 3]
    assert stats_table([hf])["format"].unique().to_list() == ["hf"]


def test_unsupported_inputs_fail_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(iter_examples([tmp_path / "missing.jsonl"]))
    with pytest.raises(InputError, match="not a Hugging Face save_to_disk folder"):
        list(iter_examples([tmp_path]))
    pq = tmp_path / "nomsg.parquet"
    pl.DataFrame({"prompt": ["a"], "completion": ["b"]}).write_parquet(pq)
    with pytest.raises(InputError, match=r"no 'messages' column \(have: prompt, completion\)"):
        list(iter_examples([pq]))
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        list(iter_examples([bad]))


def test_an_unhashable_role_gives_a_row_not_a_crash() -> None:
    row = row_of({"messages": [{"role": ["user"], "content": "hi"}, {"role": "assistant"}]})
    assert row["roles"] == "?+assistant"
    assert row["chars_user"] == 0 and row["n_turns"] == 0
    assert "unrecognized_role" in row["codes"].split(",")


def test_row_values_with_a_known_total_equal_the_counted_row() -> None:
    """validate passes its own cookbook total; the row must not change."""
    from curate.io import iter_raw_lines, parse_line
    from curate.stats import row_values
    from curate.tokens import Counter, count_examples

    counter = Counter("o200k_base")
    n = 0
    for path in (CLEAN, FIXTURES / "openai" / "tools_and_extras_bad.jsonl"):
        for line, raw in iter_raw_lines(path):
            ex = parse_line(str(path), line, raw)
            if not isinstance(ex, Example) or ex.messages is None:
                continue
            if not ex.messages or not all(isinstance(m, dict) for m in ex.messages):
                continue
            tools = ex.data.get("tools")
            total = count_examples([(ex.messages, tools)], counter)[0].total
            counted = row_values(ex, counter.count, max_tokens=1000)
            assert row_values(ex, counter.count, max_tokens=1000, total=total) == counted
            assert counted[list(COLUMNS).index("tokens_total")] == total
            n += 1
    assert n > 240


def _script_by_counting(text: str) -> str | None:
    """guess_script the plain way: every script's letters counted."""
    from curate import stats

    sample = text[: stats.SCRIPT_SAMPLE_CHARS]
    best, best_n = None, 0
    for name, rx in (("latin", stats._LATIN), *stats._SCRIPTS):
        n = len(rx.findall(sample))
        if n > best_n:
            best, best_n = name, n
    return best


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list("abcXYZ 1.,é—’“Привет你好世界가αβשאअ\u0250")), max_size=40))
def test_guess_script_shortcut_equals_counting_every_script(chars: list[str]) -> None:
    from curate.stats import guess_script

    text = "".join(chars)
    assert guess_script(text) == _script_by_counting(text)


def test_table_columns_keep_table_order_and_map_has_error() -> None:
    from curate.stats import table_columns

    assert table_columns(["script", "has_error", "id", "nope"]) == ("id", "script", "n_errors")
    assert table_columns(COLUMNS) == tuple(COLUMNS)
    assert table_columns([]) == ()
    assert list(schema(["tokens_total", "id"])) == ["tokens_total", "id"]


def test_row_values_computes_what_need_names_and_nothing_costly_else() -> None:
    """``need`` leaves out the content id, the source and the script guess when unnamed;
    every other value is the same as the full row's."""
    from curate.stats import row_values
    from curate.tokens import Counter

    counter = Counter("cl100k_base")
    idx = {c: i for i, c in enumerate(COLUMNS)}
    costly = ("id", "source", "script")
    for line, data in enumerate(json.loads(x) for x in CLEAN.read_text().splitlines()):
        full = row_values(Example(data, Location("f", line)), counter.count, max_tokens=500)
        ex = Example(data, Location("f", line))
        some = row_values(ex, counter.count, max_tokens=500, need={"tokens_total", "roles"})
        assert ex._id is None  # the content hash was not computed
        assert all(some[idx[c]] is None for c in costly)
        names = list(COLUMNS)[: len(full)]  # row_values stops before codes, n_errors
        assert [v for c, v in zip(names, some, strict=True) if c not in costly] == [
            v for c, v in zip(names, full, strict=True) if c not in costly
        ]
        assert row_values(ex, counter.count, max_tokens=500, need=set(COLUMNS)) == full
