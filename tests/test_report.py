from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.report import bars_svg, build_report, histogram_svg, render_html, write_report
from curate.validate import standard_validators, validate_path
from tests.conftest import FIXTURES, ROOT, chromium

CLEAN = FIXTURES / "expectations" / "clean.jsonl"
DUPS = FIXTURES / "expectations" / "drift_duplicates.jsonl"
ERRORS = FIXTURES / "openai" / "cookbook_errors.jsonl"
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="module")
def data() -> dict:
    return build_report([str(CLEAN), str(ERRORS)])


def test_summary_numbers_agree_with_validate(data: dict) -> None:
    rep = validate_path([CLEAN, ERRORS], workers=1)
    s = data["summary"]
    assert s["n_examples"] == rep.n_examples
    assert s["tokens_total"] == rep.tokens_total
    assert s["n_counted"] == len(rep.total.totals)
    main = next(c for c in data["costs"] if c["model"] == "gpt-4o-mini")
    billing = rep.billing(rep.total)
    assert main["billing_tokens"] == billing["n_billing_tokens"]
    assert s["epochs"] == billing["epochs"]
    assert main["cost_usd"] == pytest.approx(billing["estimated_cost_usd"], abs=1e-4)
    assert {c["model"] for c in data["costs"]} >= {"gpt-4o-mini", "gpt-4.1", "gpt-3.5-turbo"}
    assert next(c for c in data["costs"] if c["model"] == "gpt-3.5-turbo")["approximate"]


def test_findings_by_code_come_from_validate(data: dict) -> None:
    # the checks `curate validate` runs by default: content and exact duplicates included
    validators, corpus = standard_validators()
    rep = validate_path([CLEAN, ERRORS], workers=1, validators=validators, corpus_validators=corpus)
    assert rep.total.findings_by_code["conflicting_answers"] > 0
    got = {e["code"]: e["count"] for e in data["findings"]["by_code"]}
    assert got == dict(rep.total.findings_by_code)
    missing = next(e for e in data["findings"]["by_code"] if e["code"] == "missing_content")
    assert missing["severity"] == "error"
    assert missing["examples"][0]["where"] == f"{ERRORS}:4"


def test_mixes_and_turns(data: dict) -> None:
    sources = dict(data["sources"])
    assert sources["helpdesk-export"] == 80 and sources["cookbook_errors.jsonl"] == 10
    assert sum(sources.values()) == data["summary"]["n_examples"]
    assert data["roles"]["tokens"]["assistant"] > data["roles"]["tokens"]["user"] > 0
    assert data["turns_per_conversation"]["max"] == 3
    assert data["formats"] == [["jsonl", 250]]


def test_duplicate_clusters() -> None:
    d = build_report([str(DUPS)])["duplicates"]
    assert d["n_duplicates"] >= 60
    big = d["clusters"][0]
    assert big["size"] >= 2
    assert all(m.startswith(str(DUPS) + ":") for m in big["members"])


def test_parquet_and_hf_inputs(tmp_path: Path) -> None:
    import polars as pl

    datasets = pytest.importorskip("datasets")
    pq = tmp_path / "clean.parquet"
    pl.read_ndjson(CLEAN).write_parquet(pq)
    hf = tmp_path / "hf"
    datasets.Dataset.from_json(str(CLEAN)).save_to_disk(str(hf))
    base = build_report([str(CLEAN)])
    for other in (pq, hf):
        d = build_report([str(other)])
        assert d["summary"]["tokens_total"] == base["summary"]["tokens_total"]
        assert d["sources"] == base["sources"]
        assert d["duplicates"]["n_clusters"] == base["duplicates"]["n_clusters"]


def test_findings_for_parquet_come_from_the_table(tmp_path: Path) -> None:
    import polars as pl

    pq = tmp_path / "bad.parquet"
    pl.DataFrame(
        {"messages": [[{"role": "user", "content": "hi"}], [{"role": "user", "content": ""}]]}
    ).write_parquet(pq)
    d = build_report([str(pq)])
    codes = {e["code"]: e for e in d["findings"]["by_code"]}
    assert codes["example_missing_assistant_message"]["count"] == 2
    assert codes["example_missing_assistant_message"]["examples"][0]["where"] == f"{pq}#1"


def test_html_is_self_contained(data: dict) -> None:
    page = render_html(data)
    assert "<script" not in page and "<link" not in page and "<img" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace name, never fetched
    assert page.count("<svg") == 7
    assert "gpt-4o-mini limit 65,536 is off the chart" in page


def test_histogram_draws_the_limit_line_when_it_is_in_range() -> None:
    svg = histogram_svg([100, 200, 300, 5000], title="t", xlabel="x", limit=4096, limit_label="L")
    assert 'class="limit"' in svg and "L 4,096" in svg
    assert histogram_svg([], title="t", xlabel="x").endswith("no data</text></svg>")
    bars = bars_svg([(f"s{i}", 1) for i in range(15)], title="mix", max_items=12)
    assert "(3 more)" in bars and "3 (20.0%)" in bars


def test_cli_report(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", str(CLEAN), "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["summary"]["n_examples"] == 240 and d["output"] == str(out)
    assert "tokens_values" not in d
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_cli_report_missing_input_exits_2(tmp_path: Path) -> None:
    from curate.cli import main

    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "r.html")])
    assert e.value.code == 2
    assert not (tmp_path / "r.html").exists()


def _run_chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
        )


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    binary = chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    out = tmp_path / "report.html"
    data = write_report([str(CLEAN), str(ERRORS)], out)
    url = out.resolve().as_uri()
    dom = _run_chromium(binary, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    s = data["summary"]
    for number in (f"{s['n_examples']:,}", f"{s['tokens_total']:,}", "$"):
        assert number in html
    assert html.count("<svg") == 7
    assert html.count('class="bar"') > 20
    assert "missing_content" in html and "Duplicate clusters" in html
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    res = _run_chromium(binary, "--window-size=1100,3200", f"--screenshot={shot}", url)
    assert res.returncode == 0, res.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
