"""Benchmark: what dataset expectations add to ``curate validate``.

Baseline: ``validate_path`` alone (what ``curate validate`` runs) on N chat examples.
Compared (same run, same file, best of --repeat):

- validate + expectations inside the same pass (``ExpectationsValidator`` as a corpus
  validator: the statistics rows are built in validate's workers, tokens counted once),
  the way ``curate validate --expectations`` is wired;
- validate, then ``check_expectations`` as a second pass over the file;
- ``profile`` (learning the suite) alone.

Target (issue 8): validating with expectations adds < 20% to validate alone.

    python bench/expectations.py            # 100,000 examples
    python bench/expectations.py --n 20000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

WORDS = (
    "the model answers questions about data training tokens python files loss eval split "
    "review quality cost time example user system assistant upload sync share restore plan"
).split()


def make_data(path: str, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            msgs = []
            if rng.random() < 0.9:
                msgs.append({"role": "system", "content": "You are helpful. " + text(10)})
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                msgs.append({"role": "user", "content": text(rng.randint(10, 60))})
                msgs.append({"role": "assistant", "content": text(rng.randint(20, 160))})
            src = ("helpdesk", "forum", "synthetic")[i % 3]
            f.write(json.dumps({"messages": msgs, "metadata": {"source": src}}) + "\n")


VARIANTS = {
    "validate": "from curate.validate import validate_path; validate_path([DATA])",
    "validate+expectations": (
        "from curate.validate import validate_path\n"
        "from curate.expectations import ExpectationsValidator\n"
        "v = ExpectationsValidator(SUITE, paths=[DATA])\n"
        "r = validate_path([DATA], corpus_validators=[v])\n"
        "assert r.total.findings_by_code.get('expectation_failed', 0) == 0, r.findings[-3:]"
    ),
    "validate,check": (
        "from curate.validate import validate_path\n"
        "from curate.expectations import check_expectations\n"
        "validate_path([DATA])\n"
        "assert check_expectations([DATA], SUITE) == []"
    ),
    "profile": (
        "import json\nfrom curate.expectations import profile\n"
        "json.dump(profile([DATA]), open(SUITE, 'w'))"
    ),
}


def run(name: str, data: str, suite: str) -> float:
    """Wall time of one variant in a fresh interpreter (imports included, as in the CLI)."""
    code = f"DATA = {data!r}\nSUITE = {suite!r}\n" + VARIANTS[name]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "CI": "1"})
    return time.perf_counter() - t


def batch_cpu(data: str, suite: str, repeat: int) -> tuple[float, float]:
    """In one process: seconds of validate's batch function over the file, without and
    with the statistics rows computed in the same token pass
    (:func:`curate.stats.count_with_rows` standing in for ``count_examples`` inside
    ``check_batch``, the change proposed for validate), plus the table and the GX check."""
    import json as _json

    import polars as pl

    import curate.validate as v
    from curate.expectations import check_table
    from curate.records import Example, Location
    from curate.stats import count_with_rows, schema
    from curate.tokens import model_spec
    from curate.validators.format import OpenAIFormat

    spec = model_spec("gpt-4o-mini")
    original = v.count_examples
    rows: list[tuple[object, ...]] = []

    def with_rows(items: list[tuple[list[object], object]], counter: object) -> list[object]:
        exs = [Example({"messages": m, "tools": t}, Location(data)) for m, t in items]
        counts, r = count_with_rows(exs, counter, max_tokens=spec.max_tokens)  # type: ignore[arg-type]
        rows.extend(r)
        return counts  # type: ignore[return-value]

    def once(hook: bool) -> float:
        v._COUNTERS.clear()
        v.count_examples = with_rows if hook else original  # type: ignore[assignment]
        rows.clear()
        t = time.perf_counter()
        try:
            for lines in v._batches(data):
                v.check_batch(
                    v.BatchTask(data, lines, spec.encoding, spec.max_tokens, (OpenAIFormat(),), ())
                )
            if hook:
                table = pl.DataFrame(rows, schema=schema(), orient="row")
                with open(suite) as f:
                    suite_dict = _json.load(f)
                check_table(table, suite_dict, location=Location(data))
        finally:
            v.count_examples = original  # type: ignore[assignment]
        return time.perf_counter() - t

    import great_expectations  # noqa: F401  (imported in the background in the real run)

    base, hooked = float("inf"), float("inf")
    for _ in range(repeat):
        base = min(base, once(False))
        hooked = min(hooked, once(True))
    return base, hooked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2, help="runs per variant (best is kept)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data.jsonl")
        suite = os.path.join(d, "suite.json")
        make_data(data, args.n)
        size_mb = os.path.getsize(data) / 1e6
        t_profile = run("profile", data, suite)
        best: dict[str, float] = {}
        for _ in range(args.repeat):  # interleaved, so load changes hit every variant
            for name in ("validate", "validate+expectations", "validate,check"):
                best[name] = min(best.get(name, float("inf")), run(name, data, suite))

        cpu_base, cpu_hook = batch_cpu(data, suite, args.repeat)

    base = best["validate"]

    def pct(t: float) -> str:
        return f"{(t / base - 1) * 100:+.0f}%"

    print(f"examples {args.n:,} ({size_mb:.0f} MB), cores {os.cpu_count()}, best of {args.repeat}")
    print(f"baseline  validate alone                        {base:7.2f} s")
    t1, t2 = best["validate+expectations"], best["validate,check"]
    print(f"          validate + expectations in one pass   {t1:7.2f} s  {pct(t1)}")
    print(f"          validate, then check_expectations     {t2:7.2f} s  {pct(t2)}")
    print(f"          profile (learn the suite)             {t_profile:7.2f} s  {pct(t_profile)}")
    print(f"target: expectations add < 20% -> {'met' if t1 < 1.2 * base else 'NOT met'}")
    print("proposed: rows from validate's own token pass (check_batch), one process:")
    print(f"baseline  check_batch over the file             {cpu_base:7.2f} s")
    print(
        f"          + rows, table and GX check            {cpu_hook:7.2f} s  "
        f"{(cpu_hook / cpu_base - 1) * 100:+.0f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
