"""Benchmark: what dataset expectations add to ``curate validate``.

Baseline: the ``curate validate`` command itself on N chat examples, run as a user runs it
(a fresh process, imports included), two ways: with only the core checks (``--no-content
--duplicates none``: format, length, tokens and cost) and as it runs by default (content
checks and exact duplicates too). Compared, in the same run on the same file, interleaved,
best of --repeat: the same commands with ``--expectations suite.json`` (the statistics table
is built in validate's own worker processes from the same token counts, Great Expectations
is imported in a background thread during the pass, then the suite is checked).

Each command's CPU time is its process's user + sys time with its children (the worker
processes), from ``getrusage(RUSAGE_CHILDREN)`` around it; wall time is noisy when others
share the machine, CPU time much less so. Then the parts, measured in this process: the
statistics rows per example, the content id per example, the Great Expectations import and
the check of the suite on the table.

The CLI builds only the statistics columns the suite reads (the content id only when an
expectation reads ``id``) and freezes the garbage collector before the process exits (the
final collection would walk the ~400,000 objects Great Expectations leaves).

Target (issue 8): validating with expectations adds < 20% to ``curate validate`` alone.

    python bench/expectations.py            # 100,000 examples
    python bench/expectations.py --n 20000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def make_data(path: str, n: int, seed: int = 0) -> None:
    """``n`` chat examples of real English text (the public Alpaca sample, as
    bench/validate.py uses it): each user and assistant turn joins two random texts, so
    contents rarely repeat; 90% have a system prompt; three sources."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from validate import SYSTEMS, corpus

    rng = random.Random(seed)
    texts = corpus()

    def text() -> str:
        return f"{rng.choice(texts)} {rng.choice(texts)}"

    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            msgs = []
            if rng.random() < 0.9:
                msgs.append({"role": "system", "content": rng.choice(SYSTEMS[:-1])})
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                msgs.append({"role": "user", "content": text()})
                msgs.append({"role": "assistant", "content": text()})
            src = ("helpdesk", "forum", "synthetic")[i % 3]
            f.write(json.dumps({"messages": msgs, "metadata": {"source": src}}) + "\n")


CLI = "from curate.cli import main; main()"
CORE = ["--no-content", "--duplicates", "none"]
EXP = ["--expectations", "{suite}"]
VARIANTS: dict[str, list[str]] = {
    "core": CORE,
    "core+expectations": [*CORE, *EXP],
    "default": [],
    "default+expectations": EXP,
}


def run(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (its worker processes included) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "CI": "1"})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def validate_cmd(name: str, data: str, suite: str) -> list[str]:
    extra = [a.format(suite=suite) for a in VARIANTS[name]]
    return [sys.executable, "-c", CLI, "validate", data, "--json", "--fail-on", "never", *extra]


IMPORT_GX = """
import gc, os, sys
os.environ["GX_ANALYTICS_ENABLED"] = "false"
if sys.argv[1] == "curate":
    from curate.expectations import _gx
    _gx()
else:
    import curate.expectations
    import great_expectations
if sys.argv[2] == "freeze":
    gc.freeze()
"""


def gx_process_parts(repeat: int = 3) -> dict[str, float]:
    """CPU of a process that imports Great Expectations (best of ``repeat``): plainly,
    as curate does (``_gx``: without altair, see ``curate.expectations.DEFERRED``), and so
    with ``gc.freeze()`` before the exit (skips the final collection over its objects),
    against a process that imports curate.expectations only."""
    base = [sys.executable, "-c", "import curate.expectations"]
    out = {"process: import curate.expectations (s)": min(run(base)[1] for _ in range(repeat))}
    for label, args in (
        ("  + import great_expectations (s)", ["plain", "-"]),
        ("  + curate's import of it (s)", ["curate", "-"]),
        ("  + the same, gc.freeze() before exit (s)", ["curate", "freeze"]),
    ):
        cmd = [sys.executable, "-c", IMPORT_GX, *args]
        out[label] = min(run(cmd)[1] for _ in range(repeat))
    return out


def check_suite_passes(data: str, suite: str) -> None:
    """The expectations run must find the clean data clean (else it measures failures)."""
    out = subprocess.run(
        [sys.executable, "-c", CLI, "validate", data, "--json", *CORE, "--expectations", suite],
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "1"},
    )
    codes = json.loads(out.stdout).get("findings_by_code", {})
    assert "expectation_failed" not in codes, codes


def parts(data: str, suite: str, n: int) -> dict[str, float]:
    """Per-part CPU, in this process: rows (us/example), content id (us/example), the
    Great Expectations import and the suite check (s)."""
    from curate.expectations import suite_columns
    from curate.validate import validate_path

    cpu = time.process_time
    t = cpu()
    import great_expectations  # noqa: F401

    gx_import = cpu() - t
    from curate.expectations import check_table, load_suite
    from curate.io import iter_raw_lines, parse_line
    from curate.records import Example, Location, content_id

    validate_path([data], workers=1)  # warm: encoders, imports
    suite_dict = load_suite(suite)
    names = suite_columns(suite_dict)
    kinds: dict[str, bool | tuple[str, ...]] = {"none": False, "all": True, "suite": names}
    best = dict.fromkeys(kinds, float("inf"))
    report = None
    for _ in range(2):
        for kind, stats in kinds.items():
            t = cpu()
            r = validate_path([data], workers=1, stats=stats)
            best[kind] = min(best[kind], cpu() - t)
            report = r if kind == "all" else report
    assert report is not None
    table = report.stats_table()
    t = cpu()
    found = check_table(table, suite_dict, location=Location(data))
    gx_check = cpu() - t
    assert not found, found[:3]
    records = []
    for line, raw in iter_raw_lines(data):
        ex = parse_line(data, line, raw)
        if isinstance(ex, Example):
            records.append(ex.data)
        if len(records) >= 5000:
            break
    t = cpu()
    for rec in records:
        content_id(rec)
    ids = (cpu() - t) / len(records) * 1e6
    return {
        "validate core, in process (us/example)": best["none"] / n * 1e6,
        "statistics rows, all columns (us/example)": (best["all"] - best["none"]) / n * 1e6,
        "statistics rows, suite columns (us/example)": (best["suite"] - best["none"]) / n * 1e6,
        "  content_id, in both (us/example)": ids,
        "great_expectations import (s)": gx_import,
        "suite check on the table (s)": gx_check,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2, help="runs per variant (best is kept)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.jsonl")
        suite = os.path.join(d, "suite.json")
        make_data(data, args.n)
        load_before = f"{os.getloadavg()[0]:.2f}"
        size_mb = os.path.getsize(data) / 1e6
        t_profile, c_profile = run(
            [sys.executable, "-c", CLI, "profile", data, "-o", suite, "--json"]
        )
        check_suite_passes(data, suite)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeat):  # interleaved, so load changes hit every variant
            for name in VARIANTS:
                w, c = run(validate_cmd(name, data, suite))
                old = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(old[0], w), min(old[1], c))
        measured = parts(data, suite, args.n)
        measured.update(gx_process_parts())

    print(f"examples {args.n:,} ({size_mb:.0f} MB), cores {os.cpu_count()}, best of {args.repeat}")
    print(f"load average before / after: {load_before} / {os.getloadavg()[0]:.2f}")
    print(f"{'curate validate ...':44}{'wall s':>8}{'CPU s':>8}{'wall +%':>9}{'CPU +%':>8}")
    met: dict[str, bool] = {}
    for base in ("core", "default"):
        bw, bc = best[base]
        print(f"  {base:<42}{bw:8.2f}{bc:8.2f}")
        name = base + "+expectations"
        w, c = best[name]
        print(f"  {name:<42}{w:8.2f}{c:8.2f}{(w / bw - 1) * 100:+8.0f}%{(c / bc - 1) * 100:+7.0f}%")
        met[name] = c / bc < 1.2 and w / bw < 1.2
    print(f"curate profile (learn the suite): {t_profile:.2f} s wall, {c_profile:.2f} s CPU")
    print("parts (CPU, this process):")
    for k, v in measured.items():
        print(f"  {k:<42}{v:8.2f}")
    print("target: expectations add < 20% (wall and CPU) to `curate validate`:")
    for name, ok in met.items():
        print(f"  {name:<42}{'met' if ok else 'NOT met':>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
