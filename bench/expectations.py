"""Benchmark: what dataset expectations add to ``curate validate``.

Baseline: ``validate_path`` alone (what ``curate validate`` runs) on N chat examples.
Compared (same run, same file, best of --repeat):

- validate with ``stats=True`` then ``check_table``: the statistics rows are built in
  validate's own workers from the same token counts, the way ``curate validate
  --expectations`` runs (against the core checks and against the default ones, content
  and exact duplicates included);
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
import resource
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


CORE = "validators=(), corpus_validators=()"
DEFAULT = "validators=v, corpus_validators=c"
SETUP = (
    "from curate.validate import standard_validators, validate_path\nv, c = standard_validators()\n"
)
CHECK = (
    "from curate.expectations import check_table, load_suite\n"
    "from curate.records import Location\n"
    "f = check_table(r.stats_table(), load_suite(SUITE), location=Location(DATA))\n"
    "assert not f, f[:3]\n"
)
VARIANTS = {
    # what `curate validate --no-content --duplicates none` runs, and the same with
    # --expectations (statistics rows built in validate's own pass, then the GX check)
    "core": SETUP + f"r = validate_path([DATA], {CORE})",
    "core+expectations": SETUP + f"r = validate_path([DATA], {CORE}, stats=True)\n" + CHECK,
    # what plain `curate validate` runs (content checks, exact duplicates), and with
    # --expectations
    "default": SETUP + f"r = validate_path([DATA], {DEFAULT})",
    "default+expectations": SETUP + f"r = validate_path([DATA], {DEFAULT}, stats=True)\n" + CHECK,
    # the alternative: validate, then a second read of the file for the table
    "core,then check_expectations": SETUP
    + f"validate_path([DATA], {CORE})\n"
    + "from curate.expectations import check_expectations\n"
    + "assert check_expectations([DATA], SUITE) == []",
    "profile": (
        "import json\nfrom curate.expectations import profile\n"
        "json.dump(profile([DATA]), open(SUITE, 'w'))"
    ),
}


def run(name: str, data: str, suite: str) -> tuple[float, float]:
    """Wall and CPU seconds (children included) of one variant in a fresh interpreter
    (imports included, as in the CLI)."""
    code = f"DATA = {data!r}\nSUITE = {suite!r}\n" + VARIANTS[name]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "CI": "1"})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


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
        t_profile, _ = run("profile", data, suite)
        names = [n for n in VARIANTS if n != "profile"]
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeat):  # interleaved, so load changes hit every variant
            for name in names:
                w, c = run(name, data, suite)
                old = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(old[0], w), min(old[1], c))

    print(f"examples {args.n:,} ({size_mb:.0f} MB), cores {os.cpu_count()}, best of {args.repeat}")
    print(f"{'':44}{'wall s':>8}{'CPU s':>8}{'wall +%':>9}{'CPU +%':>8}")
    met = True
    for base_name in ("core", "default"):
        bw, bc = best[base_name]
        print(f"baseline  validate ({base_name}){'':<24}{bw:8.2f}{bc:8.2f}")
        for name in names:
            if name.startswith(base_name) and name != base_name:
                w, c = best[name]
                print(
                    f"          {name:<34}{w:8.2f}{c:8.2f}"
                    f"{(w / bw - 1) * 100:+8.0f}%{(c / bc - 1) * 100:+7.0f}%"
                )
                if "+expectations" in name:
                    met = met and min(w / bw, c / bc) < 1.2
    print(f"profile (learn the suite): {t_profile:.2f} s")
    print(f"target: expectations add < 20% to validate -> {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
