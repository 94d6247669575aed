from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.records import InputError
from curate.validate import distribution, validate_path
from tests.reference import cookbook

COOKBOOK_CODES = set(cookbook.format_errors([[], {}, {"messages": [{}]}])) | {
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
}

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60).filter(
    lambda s: "<|" not in s
)


def compare_stats(path: Path, *, model: str, max_tokens: int, encoding: str) -> None:
    report = validate_path([path], model=model, max_tokens=max_tokens, workers=1)
    ours = report.to_dict()
    ref = cookbook.stats(cookbook.load(str(path)), encoding, max_tokens)
    assert ours["stats"]["n_missing_system"] == ref["n_missing_system"]
    assert ours["stats"]["n_missing_user"] == ref["n_missing_user"]
    assert ours["stats"]["n_too_long"] == ref["n_too_long"]
    keys = ("min", "max", "mean", "median", "p5", "p95")
    assert {k: ours["stats"]["messages_per_example"][k] for k in keys} == ref[
        "messages_per_example"
    ]
    assert {k: ours["tokens"]["per_example"][k] for k in keys} == ref["per_example"]
    assert {k: ours["tokens"]["assistant_per_example"][k] for k in keys} == ref[
        "assistant_per_example"
    ]
    for k in ("n_billing_tokens", "epochs", "estimated_training_tokens"):
        assert ours["billing"][k] == ref[k], k


def test_cookbook_toy_file_matches_published_numbers(fixtures: Path) -> None:
    """The numbers the cookbook notebook prints for its own toy file (SOURCES.md)."""
    d = validate_path(
        [fixtures / "openai/cookbook_toy.jsonl"], model="gpt-3.5-turbo", max_tokens=4096
    ).to_dict()
    cookbook_codes = {k: v for k, v in d["findings_by_code"].items() if k in COOKBOOK_CODES}
    assert cookbook_codes == {}
    assert d["n_examples"] == 5
    assert d["stats"]["n_missing_system"] == 1 and d["stats"]["n_missing_user"] == 1
    m = d["stats"]["messages_per_example"]
    assert (m["min"], m["max"]) == (2, 9)
    t = d["tokens"]["per_example"]
    assert (t["min"], t["max"], t["mean"], t["median"]) == (26, 8032, 1648.4, 45.0)
    a = d["tokens"]["assistant_per_example"]
    assert (a["min"], a["max"], a["mean"], a["median"]) == (4, 8000, 1610.2, 10.0)
    assert d["stats"]["n_too_long"] == 1
    assert d["billing"]["n_billing_tokens"] == 4306
    assert d["billing"]["epochs"] == 20
    assert d["billing"]["estimated_training_tokens"] == 86120
    compare_stats(
        fixtures / "openai/cookbook_toy.jsonl",
        model="gpt-3.5-turbo",
        max_tokens=4096,
        encoding="cl100k_base",
    )


message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant"]), "content": text},
    optional={"name": st.sampled_from(["alice", "bob_1", "x"])},
)
example = st.fixed_dictionaries({"messages": st.lists(message, min_size=1, max_size=6)})


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(example, min_size=1, max_size=40),
    model=st.sampled_from(["gpt-4o", "gpt-3.5-turbo"]),
    max_tokens=st.integers(min_value=8, max_value=200),
)
def test_stats_equal_cookbook_on_random_in_scope_files(
    tmp_path_factory: pytest.TempPathFactory, rows: list[Any], model: str, max_tokens: int
) -> None:
    path = tmp_path_factory.mktemp("h") / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    enc = "o200k_base" if model == "gpt-4o" else "cl100k_base"
    compare_stats(path, model=model, max_tokens=max_tokens, encoding=enc)


any_value = st.one_of(
    st.none(), st.booleans(), st.integers(), text, st.lists(st.integers(), max_size=2)
)
loose_message = st.dictionaries(
    st.sampled_from(["role", "content", "name", "function_call", "weight", "lang", "extra"]),
    st.one_of(
        st.sampled_from(["system", "user", "assistant", "function", "human", "gpt", ""]),
        any_value,
        st.fixed_dictionaries({"name": text}),
    ),
    max_size=5,
)
loose_record = st.one_of(
    st.fixed_dictionaries({"messages": st.lists(loose_message, max_size=5)}),
    st.fixed_dictionaries({"messages": st.sampled_from([None, [], ""])}),
    st.lists(st.integers(), max_size=2),
    text,
    st.dictionaries(st.sampled_from(["prompt", "completion"]), text, max_size=2),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(loose_record, min_size=1, max_size=30))
def test_format_error_counts_equal_cookbook(
    tmp_path_factory: pytest.TempPathFactory, rows: list[Any]
) -> None:
    path = tmp_path_factory.mktemp("f") / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = validate_path([path], workers=1)
    ours = {k: v for k, v in report.total.findings_by_code.items() if k in COOKBOOK_CODES}
    assert ours == cookbook.format_errors(cookbook.load(str(path)))


def test_parallel_and_inline_give_identical_reports(tmp_path: Path, fixtures: Path) -> None:
    import curate.validate as v

    rows = [json.loads(line) for line in (fixtures / "openai/good.jsonl").read_text().splitlines()]
    bad = json.loads((fixtures / "openai/cookbook_errors.jsonl").read_text().splitlines()[5])
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        for i in range(6000):
            r = json.loads(json.dumps(rows[i % len(rows)]))
            r["messages"][-1]["content"] = f"{r['messages'][-1]['content'] or ''} #{i}"
            f.write(json.dumps(bad if i % 997 == 0 else r) + "\n")
    old = v.PARALLEL_MIN_BYTES
    v.PARALLEL_MIN_BYTES = 1
    try:
        par = validate_path([path], workers=2).to_dict()
    finally:
        v.PARALLEL_MIN_BYTES = old
    seq = validate_path([path], workers=1).to_dict()
    assert par == seq
    assert seq["n_examples"] == 6000 and seq["n_invalid"] == 7


def test_multiple_files_report_each_and_total(fixtures: Path) -> None:
    r = validate_path([fixtures / "openai/good.jsonl", fixtures / "openai/cookbook_errors.jsonl"])
    d = r.to_dict()
    assert [f["n_examples"] for f in d["files"]] == [4, 10]
    assert d["n_examples"] == 14
    assert d["n_invalid"] == sum(f["n_invalid"] for f in d["files"]) == 9
    assert d["n_valid"] + d["n_invalid"] == d["n_examples"]
    assert {f["file"] for f in d["findings"]} == {str(fixtures / "openai/cookbook_errors.jsonl")}


def test_nasty_files_are_accounted_for(fixtures: Path) -> None:
    cases = {
        "bom.jsonl": (2, 0, {"bom": 1}),
        "crlf.jsonl": (3, 0, {}),
        "blank_lines.jsonl": (2, 0, {"empty_line": 2}),
        "invalid_json.jsonl": (3, 1, {"invalid_json": 1}),
        "latin1.jsonl": (2, 1, {"invalid_encoding": 1}),
        "empty.jsonl": (0, 0, {"empty_file": 1}),
    }
    for name, (n, n_invalid, by_code) in cases.items():
        r = validate_path([fixtures / "openai" / name])
        assert (r.n_examples, r.n_invalid, dict(r.total.findings_by_code)) == (
            n,
            n_invalid,
            by_code,
        ), name
    assert validate_path([fixtures / "openai/empty.jsonl"]).exit_code() == 1


def test_unreadable_inputs_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        validate_path([tmp_path / "missing.jsonl"])
    with pytest.raises(InputError, match="is a directory"):
        validate_path([tmp_path])


def test_exit_code_follows_fail_on(fixtures: Path) -> None:
    r = validate_path([fixtures / "openai/blank_lines.jsonl"])
    assert (r.exit_code("error"), r.exit_code("warning"), r.exit_code("never")) == (0, 1, 0)


def test_max_findings_caps_the_list_not_the_counts(fixtures: Path) -> None:
    r = validate_path([fixtures / "openai/cookbook_errors.jsonl"], max_findings=2)
    assert len(r.findings) == 2 and r.total.findings_truncated
    assert sum(r.total.findings_by_code.values()) > 2


def test_distribution_quantiles() -> None:
    d = distribution([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert d["p5"] == 1.9 and d["p95"] == 9.1  # the cookbook's 10th / 90th percentile
    assert d["q05"] == pytest.approx(1.45) and d["q95"] == pytest.approx(9.55)
    assert distribution([])["min"] is None


def test_counts_tools_and_non_string_values(make_jsonl: Any) -> None:
    from curate.tokens import get_encoding

    enc = get_encoding("o200k_base")
    call = [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]
    tools = [{"type": "function", "function": {"name": "w"}}]
    row = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "tool_calls": call},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": "done", "weight": 1},
        ],
        "tools": tools,
    }
    path = make_jsonl([row])
    d = validate_path([path], model="gpt-4o").to_dict()

    def n(s: str) -> int:
        return len(enc.encode(s))

    def js(v: Any) -> str:
        return json.dumps(v, separators=(",", ":"))

    expected = (
        3
        + 4 * 3
        + n("user")
        + n("hi")
        + n("assistant")
        + n(js(call))
        + n("tool")
        + n("c1")
        + n("ok")
        + n("assistant")
        + n("done")
        + n("1")
        + n(js(tools))
    )
    assert d["tokens"]["total"] == expected
    assert d["tokens"]["assistant_total"] == n("done")
    assert Counter(d["findings_by_code"]) == Counter()


def test_json_array_is_rejected_with_the_fix(tmp_path: Path) -> None:
    p = tmp_path / "alpaca.json"
    p.write_text('[\n  {"instruction": "a", "input": "", "output": "b"}\n]\n')
    with pytest.raises(
        InputError, match=r"alpaca.json:1: this is a JSON array, not JSONL.*curate ingest"
    ):
        validate_path([p])
    q = tmp_path / "pretty.jsonl"
    q.write_text('{\n  "messages": []\n}\n')
    with pytest.raises(InputError, match="multi-line JSON object"):
        validate_path([q])


def test_compact_array_split_over_lines_is_rejected_too(tmp_path: Path) -> None:
    p = tmp_path / "arr.json"
    p.write_text('[{"messages": 1},\n{"messages": 2}]\n')
    with pytest.raises(InputError, match="this is a JSON array"):
        validate_path([p])


@pytest.mark.parametrize(
    "after",
    [
        '{"messages": [{"role": "user", "content": "hi"}]}\n',  # the next record is whole
        "not json\n",
        "",  # a single truncated line
    ],
)
def test_truncated_first_record_of_jsonl_is_invalid_json_not_a_json_document(
    tmp_path: Path, after: str
) -> None:
    # an interrupted write leaves a broken first line; the rest is still JSONL
    p = tmp_path / "cut.jsonl"
    p.write_text('{"messages": [{"role": "user", "content": "hi"}\n' + after)
    d = validate_path([p]).to_dict()
    assert d["findings_by_code"]["invalid_json"] >= 1
    first = validate_path([p]).findings[0]
    assert (first.code, first.location.line) == ("invalid_json", 1)


def test_preference_examples_are_counted(make_jsonl: Any) -> None:
    row = {
        "input": {"messages": [{"role": "user", "content": "Best color?"}]},
        "preferred_output": [{"role": "assistant", "content": "Blue."}],
        "non_preferred_output": [{"role": "assistant", "content": "Dunno."}],
    }
    d = validate_path([make_jsonl([row])], model="gpt-4o").to_dict()
    assert d["n_invalid"] == 0 and d["findings_by_code"] == {}
    from curate.tokens import count_example

    msgs = row["input"]["messages"] + row["preferred_output"] + row["non_preferred_output"]
    assert d["tokens"]["total"] == count_example(msgs, encoding_name="o200k_base").total


def test_stats_table_from_the_validate_pass_equals_curate_stats(fixtures: Path) -> None:
    """`validate_path(stats=True)` builds curate.stats' table from its own token pass."""
    from curate.stats import stats_table

    files = [
        fixtures / "expectations/clean.jsonl",
        fixtures / "openai/good.jsonl",
        fixtures / "openai/cookbook_toy.jsonl",
    ]
    ours = validate_path(files, model="gpt-3.5-turbo", stats=True).stats_table()
    ref = stats_table([str(f) for f in files], model="gpt-3.5-turbo")
    cols = [c for c in ref.columns if c not in ("codes", "n_errors")]
    assert ours.height == ref.height == 240 + 4 + 5
    assert ours.select(cols).sort(["file", "line"]).equals(ref.select(cols).sort(["file", "line"]))


def test_stats_table_codes_and_records_the_table_cannot_count(make_jsonl: Any) -> None:
    """Rows carry validate's codes (too_long of a preference record included) and an
    unhashable role neither crashes the table nor loses the row."""
    dpo = {
        "input": {"messages": [{"role": "user", "content": "word " * 40}]},
        "preferred_output": [{"role": "assistant", "content": "Yes."}],
        "non_preferred_output": [{"role": "assistant", "content": "No."}],
    }
    odd = {
        "messages": [{"role": ["user"], "content": "hi"}, {"role": "assistant", "content": "yo"}]
    }
    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    p = make_jsonl([dpo, odd, ok])
    t = validate_path([p], max_tokens=30, stats=True).stats_table()
    assert t["line"].to_list() == [1, 2, 3]
    assert t["codes"].to_list() == ["too_long", "unrecognized_role", ""]
    assert t["n_errors"].to_list() == [1, 1, 0]
    assert t["tokens_total"].to_list() == [None, 15, 13]  # the role counts as ["user"]
    assert t["roles"].to_list() == [None, "?+assistant", "assistant+user"]


def test_stats_table_from_worker_processes_equals_inline(tmp_path: Path) -> None:
    """A file large enough for the process pool gives the same table as one process."""
    from curate.validate import PARALLEL_MIN_BYTES

    msgs = [{"role": "user", "content": "q " * 300}, {"role": "assistant", "content": "a"}]
    p = tmp_path / "big.jsonl"
    line = json.dumps({"messages": msgs})
    n = PARALLEL_MIN_BYTES // len(line) + 50
    p.write_text("".join(line[:-1] + f', "n": {i}}}\n' for i in range(n)))
    pooled = validate_path([p], workers=2, stats=True).stats_table()
    inline = validate_path([p], workers=1, stats=True).stats_table()
    assert pooled.height == n and pooled.equals(inline)
    assert pooled["id"].n_unique() == n


def test_batch_findings_keep_line_order_with_validators_run_batch_wide() -> None:
    """check_batch runs each validator over the whole batch (the content check through its
    check_many), then puts the findings back in line order: the same findings and error
    lines as checking line by line, each line's own findings (BOM, blank line, broken
    JSON) first, then each validator's in turn."""
    from curate.io import line_findings, parse_line
    from curate.records import Finding, Severity
    from curate.validate import BatchTask, check_batch
    from curate.validators.content import content_validators
    from curate.validators.format import OpenAIFormat

    def chat(user: str, reply: str, **extra: Any) -> bytes:
        msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
        return json.dumps({"messages": msgs, **extra}, ensure_ascii=False).encode()

    prompt = "What is the capital of France and why is it famous? Answer in two sentences."
    es = (
        "La capital de Francia es París. Es famosa por su historia, sus museos y la torre "
        "Eiffel, que es uno de los monumentos más visitados del mundo."
    )
    raws = [
        b"\xef\xbb\xbf" + chat("Your mail?", "Mail jane.doe@northwind-tools.io.", extra_key=1),
        b"",
        json.dumps({"messages": [{"role": "robot", "content": "x"}]}).encode(),
        b'{"messages": [',
        chat(prompt, es),
        chat("Write [Your Name] here", "As an AI language model, I cannot do that."),
        b"   ",
        chat(prompt, es),
    ]
    lines = list(enumerate(raws, start=1))
    validators = (OpenAIFormat(), *content_validators())
    task = BatchTask("f.jsonl", lines, "o200k_base", 10**6, validators, ())

    want: list[Finding] = []
    want_errors: list[int] = []
    for line, raw in lines:
        want += line_findings("f.jsonl", line, raw)
        parsed = parse_line("f.jsonl", line, raw)
        if parsed is None:
            continue
        if isinstance(parsed, Finding):
            want.append(parsed)
            want_errors.append(line)
            continue
        found = [f for v in validators for f in v.check(parsed)]
        want += found
        if any(f.severity is Severity.ERROR for f in found):
            want_errors.append(line)
    got = check_batch(task)
    assert [(f.code, f.location, f.message) for f in got.findings] == [
        (f.code, f.location, f.message) for f in want
    ]
    assert got.error_lines == want_errors
    codes = [f.code for f in got.findings]
    assert codes[:4] == ["bom", "unrecognized_top_level_key", "pii_email", "empty_line"]
    assert codes.count("language_mismatch") == 2
    assert got.error_lines == [3, 4]  # a validator's error, then a line that does not parse
