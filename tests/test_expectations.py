from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.expectations import (
    CODE,
    ExpectationsValidator,
    Tolerance,
    check_expectations,
    describe_failure,
    load_suite,
    profile,
)
from curate.records import InputError, Severity
from curate.validate import validate_path
from tests.conftest import FIXTURES

pytest.importorskip("great_expectations")

HERE = FIXTURES / "expectations"
CLEAN = HERE / "clean.jsonl"


@pytest.fixture(scope="module")
def suite_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("suite") / "suite.json"
    path.write_text(json.dumps(profile([str(CLEAN)])))
    return str(path)


def failed(findings: list) -> dict[tuple[str, str], str]:
    return {(f.data["expectation"], f.data["column"]): f.message for f in findings}


def test_suite_is_great_expectations_json_and_round_trips(suite_path: str) -> None:
    import great_expectations as gx

    suite = load_suite(suite_path)
    gsuite = gx.ExpectationSuite(**{k: suite[k] for k in ("name", "expectations", "meta")})
    types = {e.expectation_type for e in gsuite.expectations}
    assert {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_quantile_values_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_kl_divergence_to_be_less_than",
        "expect_column_values_to_be_in_set",
        "expect_column_max_to_be_between",
    } <= types
    assert suite["meta"]["curate"]["profiled_examples"] == 240


@pytest.mark.parametrize("name", ["clean.jsonl", "clean_batch2.jsonl"])
def test_clean_data_passes(suite_path: str, name: str) -> None:
    assert check_expectations([str(HERE / name)], suite_path) == []


def test_half_the_system_prompts_missing(suite_path: str) -> None:
    path = str(HERE / "drift_no_system.jsonl")
    findings = check_expectations([path], suite_path)
    assert all(f.code == CODE and f.severity is Severity.ERROR for f in findings)
    assert all(f.location.file == path and f.location.line is None for f in findings)
    got = failed(findings)
    assert got[("expect_column_mean_to_be_between", "has_system")] == (
        "expect_column_mean_to_be_between on has_system: observed 0.4667, expected 0.8042 to 1"
    )
    assert {col for _, col in got} == {"has_system", "chars_system"}


def test_answers_twice_as_long(suite_path: str) -> None:
    got = failed(check_expectations([str(HERE / "drift_long_answers.jsonl")], suite_path))
    msg = got[("expect_column_mean_to_be_between", "chars_assistant")]
    assert msg == (
        "expect_column_mean_to_be_between on chars_assistant: observed 441.5, "
        "expected 180.5 to 300.8"
    )
    q = got[("expect_column_quantile_values_to_be_between", "chars_assistant")]
    assert "quantile 0.5 observed 384, expected" in q
    assert ("expect_column_values_to_be_between", "tokens_assistant") in got
    assert "at most 1.0% allowed" in got[("expect_column_values_to_be_between", "tokens_assistant")]
    assert {col for _, col in got} <= {
        "chars_assistant",
        "tokens_assistant",
        "tokens_total",
        "context_share",
    }


def test_one_source_dominating(suite_path: str) -> None:
    got = failed(check_expectations([str(HERE / "drift_one_source.jsonl")], suite_path))
    assert list(got) == [("expect_column_kl_divergence_to_be_less_than", "source")]
    msg = next(iter(got.values()))
    assert msg.startswith(
        "expect_column_kl_divergence_to_be_less_than on source: observed divergence 0.5827, "
        "expected < 0.1 (observed mix helpdesk-export 85%"
    )
    assert "profiled helpdesk-export 33%, forum-scrape 33%, synthetic-v2 33%" in msg


def test_repeated_examples(suite_path: str) -> None:
    got = failed(check_expectations([str(HERE / "drift_duplicates.jsonl")], suite_path))
    assert got == {
        ("expect_column_proportion_of_unique_values_to_be_between", "id"): (
            "expect_column_proportion_of_unique_values_to_be_between on id: observed 0.75, "
            "expected 0.8958 to 1"
        )
    }


def test_a_source_never_seen_and_a_null_column(tmp_path: Path, suite_path: str) -> None:
    rows = [json.loads(x) for x in CLEAN.read_text().splitlines()]
    for r in rows[:40]:
        r["metadata"]["source"] = "new-vendor"
    rows[0] = {"prompt": "no messages", "metadata": {"source": "new-vendor"}}
    p = tmp_path / "new.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = failed(check_expectations([str(p)], suite_path))
    kl = got[("expect_column_kl_divergence_to_be_less_than", "source")]
    assert "observed divergence infinite" in kl
    assert kl.endswith("values not in the profile: new-vendor")
    assert got[("expect_column_values_to_not_be_null", "tokens_total")] == (
        "expect_column_values_to_not_be_null on tokens_total: 1 of 240 null values (0.4%)"
    )


def test_the_same_check_inside_validate(suite_path: str) -> None:
    path = str(HERE / "drift_no_system.jsonl")
    alone = check_expectations([path], suite_path)
    v = ExpectationsValidator(suite_path, paths=[path])
    report = validate_path([path], corpus_validators=[v], workers=1)
    inside = [f for f in report.findings if f.code == CODE]
    assert [f.message for f in inside] == [f.message for f in alone]
    assert report.total.findings_by_code[CODE] == len(alone)
    assert report.exit_code() == 1


def test_error_rate_expectation_is_opt_in_and_works_inside_validate(tmp_path: Path) -> None:
    suite = {
        "name": "errors",
        "expectations": [
            {
                "type": "expect_column_mean_to_be_between",
                "kwargs": {"column": "has_error", "min_value": 0.0, "max_value": 0.05},
            }
        ],
    }
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite))
    assert all(
        e["kwargs"].get("column") != "has_error" for e in profile([str(CLEAN)])["expectations"]
    )
    bad = str(FIXTURES / "openai" / "cookbook_errors.jsonl")
    alone = check_expectations([bad], str(path))
    v = ExpectationsValidator(str(path), paths=[bad])
    assert v._need_codes
    inside = [f for f in validate_path([bad], corpus_validators=[v]).findings if f.code == CODE]
    assert [f.message for f in inside] == [f.message for f in alone]
    assert alone[0].message.startswith(
        "expect_column_mean_to_be_between on has_error: observed 0.9"
    )


def test_validator_pickles_light_for_workers(suite_path: str) -> None:
    import pickle

    v = ExpectationsValidator(suite_path)
    clone = pickle.loads(pickle.dumps(v))
    assert clone._rows == [] and clone._limit == v._limit
    assert "_suite" not in clone.__dict__


def test_data_docs(tmp_path: Path, suite_path: str) -> None:
    docs = tmp_path / "docs"
    findings = check_expectations(
        [str(HERE / "drift_one_source.jsonl")], suite_path, data_docs=str(docs)
    )
    assert len(findings) == 1
    index = docs / "index.html"
    assert index.exists()
    pages = list((docs / "validations").rglob("*.html"))
    assert pages and "kl_divergence" in pages[0].read_text().lower().replace(" ", "_")


def test_parquet_and_hf_inputs(tmp_path: Path, suite_path: str) -> None:
    import polars as pl

    datasets = pytest.importorskip("datasets")
    pq = tmp_path / "drift.parquet"
    pl.read_ndjson(HERE / "drift_no_system.jsonl").write_parquet(pq)
    hf = tmp_path / "hf"
    datasets.Dataset.from_json(str(HERE / "drift_no_system.jsonl")).save_to_disk(str(hf))
    jsonl = failed(check_expectations([str(HERE / "drift_no_system.jsonl")], suite_path))
    assert failed(check_expectations([str(pq)], suite_path)) == jsonl
    assert failed(check_expectations([str(hf)], suite_path)) == jsonl
    suite_hf = profile([str(hf)])
    assert suite_hf["meta"]["curate"]["profiled_examples"] == 240


def test_tolerance_is_configurable() -> None:
    strict = profile([str(CLEAN)], tolerance=Tolerance(proportion=0.01))
    has_system = next(
        e
        for e in strict["expectations"]
        if e["kwargs"].get("column") == "has_system" and e["type"].endswith("mean_to_be_between")
    )
    assert has_system["kwargs"]["max_value"] - has_system["kwargs"]["min_value"] == pytest.approx(
        0.02
    )


def test_suite_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such suite file\. Create one with: curate profile"):
        load_suite(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"expectations": [')
    with pytest.raises(InputError, match=r"bad.json:1: the suite is not valid JSON"):
        load_suite(bad)
    other = tmp_path / "other.json"
    other.write_text("[]")
    with pytest.raises(InputError, match="not a Great Expectations suite"):
        load_suite(other)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(
        json.dumps(
            {
                "name": "x",
                "expectations": [
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "nope"}}
                ],
            }
        )
    )
    with pytest.raises(InputError, match="names columns the statistics table does not have: nope"):
        check_expectations([str(CLEAN)], str(unknown))


def test_profile_of_nothing_is_an_error(tmp_path: Path) -> None:
    from curate.records import CurateError

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(CurateError, match="no examples to profile"):
        profile([str(empty)])


def test_describe_failure_for_ranges() -> None:
    msg = describe_failure(
        "expect_column_values_to_be_between",
        {"column": "n_turns", "min_value": 1, "max_value": 4, "mostly": 0.99},
        {
            "element_count": 10,
            "unexpected_count": 2,
            "unexpected_percent": 20.0,
            "partial_unexpected_list": [7, 9],
        },
    )
    assert msg == (
        "expect_column_values_to_be_between on n_turns: 2 of 10 values outside 1 to 4 "
        "(20.0%, at most 1.0% allowed); e.g. 7, 9"
    )


def test_cli_profile(tmp_path: Path) -> None:
    out = tmp_path / "s" / "suite.json"
    r = CliRunner().invoke(app, ["profile", str(CLEAN), "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["profiled_examples"] == 240
    assert summary["n_expectations"] == len(json.loads(out.read_text())["expectations"])
    r = CliRunner().invoke(app, ["profile", str(CLEAN), "-o", str(out)])
    assert "expectations learned from 240 examples" in r.stdout
    assert f"curate validate NEW --expectations {out}" in r.stdout.replace("\n", " ")


def test_cli_profile_bad_input_exits_2(tmp_path: Path) -> None:
    from curate.cli import main

    with pytest.raises(SystemExit) as e:
        main(["profile", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "s.json")])
    assert e.value.code == 2
    assert not (tmp_path / "s.json").exists()


def test_only_the_columns_a_suite_reads_go_to_great_expectations() -> None:
    from curate.expectations import _needed_columns, check_table
    from curate.records import Location
    from curate.stats import COLUMNS, stats_table

    suite = profile([str(CLEAN)])
    needed = _needed_columns(suite, list(COLUMNS))
    assert needed is not None and "id" in needed and "file" not in needed
    # a table-level expectation reads no one column: the whole table goes
    rows = {
        "name": "rows",
        "expectations": [
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": 1000, "max_value": None},
            },
            {
                "type": "expect_column_pair_values_a_to_be_greater_than_b",
                "kwargs": {"column_A": "tokens_total", "column_B": "tokens_user", "or_equal": True},
            },
        ],
    }
    assert _needed_columns(rows, list(COLUMNS)) is None
    table = stats_table([str(CLEAN)])
    got = check_table(table, rows, location=Location(str(CLEAN)))
    assert [f.message for f in got] == [
        "expect_table_row_count_to_be_between: observed 240, expected >= 1000"
    ]
    pair = {"name": "pair", "expectations": rows["expectations"][1:]}
    assert _needed_columns(pair, list(COLUMNS)) == ["tokens_user", "tokens_total"]
    assert check_table(table, pair, location=Location(str(CLEAN))) == []


def test_suite_columns() -> None:
    from curate.expectations import suite_columns
    from curate.stats import COLUMNS

    suite = profile([str(CLEAN)])
    cols = suite_columns(suite)
    assert "id" in cols and "source" in cols and "tokens_total" in cols
    assert not {"file", "line", "codes", "n_errors", "tokens_tool"} & set(cols)
    assert list(cols) == [c for c in COLUMNS if c in cols]
    errors = {
        "expectations": [
            {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "has_error"}}
        ]
    }
    assert suite_columns(errors) == ("n_errors",)
    # a table-level expectation, or no column the table has: every column
    table_level = {"expectations": [{"type": "expect_table_row_count_to_be_between"}]}
    assert suite_columns(table_level) == tuple(COLUMNS)
    unknown = {"expectations": [{"type": "x", "kwargs": {"column": "nope"}}]}
    assert suite_columns(unknown) == tuple(COLUMNS)


@pytest.mark.parametrize("name", ["clean.jsonl", "drift_no_system.jsonl", "drift_one_source.jsonl"])
def test_validate_builds_only_the_suite_columns_with_the_same_values_and_findings(
    suite_path: str, name: str
) -> None:
    """`validate_path(stats=suite_columns(suite))` builds those columns only, equal to the
    full table's, and the suite finds exactly what it finds on the full table."""
    from curate.expectations import check_table, suite_columns
    from curate.records import Location

    suite = load_suite(suite_path)
    path = str(HERE / name)
    cols = suite_columns(suite)
    full = validate_path([path], stats=True, workers=1).stats_table()
    part = validate_path([path], stats=cols, workers=1).stats_table()
    assert part.columns == list(cols)
    assert part.equals(full.select(cols))
    where = Location(path)
    got = [f.message for f in check_table(part, suite, location=where)]
    assert got == [f.message for f in check_table(full, suite, location=where)]
    assert (got == []) == (name == "clean.jsonl")


def test_suite_columns_from_worker_processes(tmp_path: Path) -> None:
    """The pooled pass ships the chosen columns only, equal to the inline full table's."""
    from curate.validate import PARALLEL_MIN_BYTES

    rows = [json.loads(x) for x in CLEAN.read_text().splitlines()]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path = tmp_path / "big.jsonl"
    path.write_text(text * (PARALLEL_MIN_BYTES // len(text) + 1))
    cols = ("id", "n_turns", "script", "n_errors")
    pooled = validate_path([path], stats=cols, workers=2).stats_table()
    inline = validate_path([path], stats=True, workers=1).stats_table()
    assert pooled.columns == list(cols) and pooled.height == inline.height
    assert pooled.equals(inline.select(cols))


def test_stats_column_names_are_checked(tmp_path: Path) -> None:
    from curate.expectations import check_table
    from curate.records import CurateError, Location

    with pytest.raises(ValueError, match="no such statistics column: nope"):
        validate_path([CLEAN], stats=["tokens_total", "nope"])
    with pytest.raises(TypeError, match="not a string"):
        validate_path([CLEAN], stats="tokens_total")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    t = validate_path([empty], stats=["tokens_total"]).stats_table()
    assert t.columns == ["tokens_total"] and t.height == 0
    # a table built for other columns: the check says so instead of guessing
    part = validate_path([CLEAN], stats=["tokens_total"]).stats_table()
    suite = {
        "expectations": [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
            {"type": "expect_column_max_to_be_between", "kwargs": {"column": "tokens_total"}},
        ]
    }
    with pytest.raises(CurateError, match=r"built without columns s.json reads: id \(build"):
        check_table(part, suite, location=Location(str(CLEAN)), suite_source="s.json")


def test_data_docs_render(tmp_path: Path, suite_path: str) -> None:
    f = check_expectations(
        [str(HERE / "drift_one_source.jsonl")], suite_path, data_docs=str(tmp_path / "docs")
    )
    assert len(f) == 1
    assert (tmp_path / "docs" / "index.html").is_file()


@pytest.mark.parametrize("freeze", ["1", "0"])
def test_console_script_finds_the_same_with_and_without_the_gx_freeze(
    suite_path: str, freeze: str
) -> None:
    """The real ``curate`` executable, with Great Expectations' objects frozen after its
    import (the default) or not (``CURATE_GX_FREEZE=0``), reports the same expectation
    failures as the check alone."""
    import subprocess

    path = str(HERE / "drift_no_system.jsonl")
    exe = Path(sys.executable).with_name("curate")
    args = [str(exe), "validate", path, "--expectations", suite_path, "--json"]
    env = {**os.environ, "CI": "1", "CURATE_GX_FREEZE": freeze}
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    assert out.returncode == 1, out.stderr
    got = [f["message"] for f in json.loads(out.stdout)["findings"] if f["code"] == CODE]
    assert got == [f.message for f in check_expectations([path], suite_path)]
    assert got


# -- issue 22, item 4: a suite does not learn file names as the source mix --------------------


def _copy(src: Path, dst: Path, *, how: str) -> Path:
    """``src``'s examples in ``dst``; ``how``: keep the labels, drop them (the source falls
    back to the file name), or replace them by an ingest-style ``source`` object."""
    out = []
    for i, line in enumerate(src.read_text().splitlines(), 1):
        r = json.loads(line)
        if how != "labels":
            r.pop("metadata", None)
        if how == "ingested":
            r["source"] = {"file": f"raw_{dst.stem}.json", "row": i, "format": "alpaca"}
        out.append(json.dumps(r) + "\n")
    dst.write_text("".join(out))
    return dst


@pytest.mark.parametrize("how", ["unlabelled", "ingested"])
def test_a_fresh_sample_in_a_file_with_another_name_passes(tmp_path: Path, how: str) -> None:
    trusted = _copy(CLEAN, tmp_path / "train.jsonl", how=how)
    suite = profile([str(trusted)])
    assert "kl_divergence" not in json.dumps([e["type"] for e in suite["expectations"]])
    assert suite["meta"]["curate"]["source_mix"].startswith("not learned: 240 of 240 examples")
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite))
    fresh = _copy(HERE / "clean_batch2.jsonl", tmp_path / "new.jsonl", how=how)
    assert check_expectations([str(fresh)], str(path)) == []
    # drift is still caught
    drift = _copy(HERE / "drift_no_system.jsonl", tmp_path / "later.jsonl", how=how)
    got = failed(check_expectations([str(drift)], str(path)))
    assert ("expect_column_mean_to_be_between", "has_system") in got


def test_labelled_sources_are_still_learned_whatever_the_file_names(tmp_path: Path) -> None:
    suite = profile([str(_copy(CLEAN, tmp_path / "a.jsonl", how="labels"))])
    assert suite["meta"]["curate"]["source_mix"] == "learned"
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite))
    fresh = _copy(HERE / "clean_batch2.jsonl", tmp_path / "b.jsonl", how="labels")
    assert check_expectations([str(fresh)], str(path)) == []
    one = _copy(HERE / "drift_one_source.jsonl", tmp_path / "c.jsonl", how="labels")
    got = failed(check_expectations([str(one)], str(path)))
    assert list(got) == [("expect_column_kl_divergence_to_be_less_than", "source")]
