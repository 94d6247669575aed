"""Benchmark ``curate split`` on a large synthetic chat JSONL file.

    python bench/split.py                 # 1,000,000 examples, near-duplicates off and on
    python bench/split.py --n 200000 --no-near-run

Prints, for each run, wall time, examples/s, CPU seconds (this process and its worker
pool) and peak RSS, next to a named baseline measured in the same run: ``baseline:
read+json.loads x2`` (two plain passes that read every line and parse it with
``json.loads``: the floor any two-pass splitter pays). The data is shaped like ``curate
ingest`` output (``id``, ``source``): 3-message conversations of ~60 tokens, 3% exact
duplicates and 3% sharing a prompt with another example, ``metadata.lang`` in 4 values.
The load average is printed too: other work on the machine slows the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "data model train eval token prompt answer split group seed stable hash file line "
    "python numpy arrow parquet trainer assistant user system quick brown fox jumps over "
    "lazy dog alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi"
).split()


def make_file(path: Path, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    langs = ["en", "de", "fr", "ja"]
    prompts: list[str] = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            r = rnd.random()
            if r < 0.03 and prompts:
                user = rnd.choice(prompts)
                answer = " ".join(rnd.choices(WORDS, k=20)) + f" {i}"
            else:
                user = " ".join(rnd.choices(WORDS, k=15)) + f" #{i}"
                answer = " ".join(rnd.choices(WORDS, k=25))
                if len(prompts) < 10000:
                    prompts.append(user)
            rec = {
                "id": f"{rnd.getrandbits(80):020x}",
                "messages": [
                    {"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": answer},
                ],
                "source": {"file": "raw/chat.jsonl", "line": i + 1, "format": "openai"},
                "metadata": {"lang": langs[i % 4]},
            }
            line = json.dumps(rec)
            f.write(line + "\n")
            if rnd.random() < 0.03:  # an exact duplicate (another id, same content)
                rec["id"] = f"{rnd.getrandbits(80):020x}"
                f.write(json.dumps(rec) + "\n")


def baseline(path: Path) -> float:
    t = time.perf_counter()
    for _ in range(2):
        with open(path, "rb") as f:
            for raw in f:
                json.loads(raw)
    return time.perf_counter() - t


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker pool)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, child_kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--format", default="openai")
    ap.add_argument("--no-near-run", action="store_true", help="skip the near-duplicate run")
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated input here")
    args = ap.parse_args()

    from curate.split import SplitOptions, split_path

    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-"))
    src = args.keep or tmp / "in.jsonl"
    if not src.exists():
        t = time.perf_counter()
        make_file(src, args.n)
        dt = time.perf_counter() - t
        print(f"generated {src} ({os.path.getsize(src) / 1e6:.0f} MB) in {dt:.1f}s")
    n_lines = sum(1 for _ in open(src, "rb"))
    b = baseline(src)
    print(f"baseline: read+json.loads x2      {b:7.1f}s  {n_lines / b:10,.0f} lines/s")
    runs = [("split (exact+prompt groups)", False)]
    if not args.no_near_run:
        runs.append(("split (+near-duplicates)", True))
    print(f"load average before the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, near in runs:
        t = time.perf_counter()
        cpu = cpu_seconds()
        m = split_path(
            src, tmp / f"out-{near}", SplitOptions(eval_fraction=0.1, near=near, format=args.format)
        )
        dt = time.perf_counter() - t
        cpu = cpu_seconds() - cpu
        c = m["counts"]
        print(
            f"{name:<33} {dt:7.1f}s  {n_lines / dt:10,.0f} lines/s  {dt / b:4.1f}x baseline  "
            f"cpu {cpu:,.0f}s  "
            f"train {c['train']:,} eval {c['eval']:,} groups {m['groups']['total']:,} "
            f"straddling {m['leakage']['groups_straddling']}  peak RSS {peak_rss_mb():,.0f} MB",
            flush=True,
        )
    if not args.keep:
        import shutil

        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
