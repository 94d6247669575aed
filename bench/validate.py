"""Benchmark: `curate validate` against the OpenAI cookbook's approach, same file, same run.

Baseline ("cookbook"): the notebook's own code as transcribed in tests/reference/cookbook.py:
json.loads of every line into a list, its format-error loop, then len(encoding.encode(value))
for every value of every message and its statistics.
Both run in fresh subprocesses so peak memory (max RSS, workers included) is measured
separately. Counts must agree, or the benchmark fails.

    python bench/validate.py                 # 100,000 examples
    python bench/validate.py --n 300000 --scale 100000,300000
    python bench/validate.py --repeat 5      # 5 interleaved runs of each, median speed-up

Each side's CPU time (user + sys, worker processes included) is printed beside its wall
time: on a shared machine wall time varies from run to run, CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "fixtures" / "samples"

SYSTEMS = [
    "You are a helpful assistant.",
    "You are Marv, a factual chatbot that is also sarcastic.",
    "You are a customer-support agent for Acme Cloud. Answer briefly and politely.",
    "Answer as a senior Python engineer. Prefer short code examples.",
    "",
]


def corpus() -> list[str]:
    """Real sentences from the public Alpaca sample (falls back to generated text)."""
    texts: list[str] = []
    p = SAMPLES / "alpaca_en_demo.json"
    if p.exists():
        for r in json.loads(p.read_text()):
            texts.extend(t for t in (r.get("instruction"), r.get("input"), r.get("output")) if t)
    if not texts:
        rnd = random.Random(0)
        words = "data model token train eval split the a of to and is for with on".split()
        texts = [
            " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 80))) for _ in range(5000)
        ]
    return texts


def generate(path: Path, n: int, seed: int = 0, repeated: bool = False) -> None:
    """``n`` chat examples from real text. By default each user and assistant content
    joins two random texts, so contents rarely repeat; ``repeated`` draws whole texts
    from the pool (about 2,000 distinct), the way templated and distilled data repeats."""
    rnd = random.Random(seed)
    texts = corpus()
    with path.open("w", encoding="utf-8") as f:
        for _ in range(n):
            msgs = []
            sys_prompt = rnd.choice(SYSTEMS)
            if sys_prompt:
                msgs.append({"role": "system", "content": sys_prompt})
            for _ in range(rnd.choice([1, 1, 1, 2, 3])):
                if repeated:
                    user, reply = rnd.choice(texts), rnd.choice(texts)
                else:  # two real texts joined, so contents rarely repeat
                    user = f"{rnd.choice(texts)}\n\n{rnd.choice(texts)}"
                    reply = f"{rnd.choice(texts)} {rnd.choice(texts)}"
                msgs.append({"role": "user", "content": user})
                msgs.append({"role": "assistant", "content": reply})
            f.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")


# The baseline is the notebook's own code, transcribed once in tests/reference/cookbook.py
# (the parity tests use the same module): load every line, the format-error loop, then the
# per-message token counts and the statistics.
COOKBOOK = r"""
import json, sys, time, resource
sys.path.insert(0, sys.argv[3])
from curate.tokens import install_rank_files
install_rank_files()  # the rank files only; the counting is tiktoken + the notebook
from tests.reference import cookbook
t0 = time.perf_counter()
dataset = cookbook.load(sys.argv[1])
errors = cookbook.format_errors(dataset)
st = cookbook.stats(dataset, sys.argv[2], 1 << 62)
elapsed = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "cpu": ru.ru_utime + ru.ru_stime, "n": len(dataset),
                  "total": sum(st["convo_lens"]),
                  "assistant": sum(st["assistant_lens"]),
                  "n_missing_system": st["n_missing_system"], "errors": errors,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CURATE = r"""
import json, sys, time, resource
t0 = time.perf_counter()
from curate.validate import validate_path
r = validate_path([sys.argv[1]], model=sys.argv[2], workers=int(sys.argv[3]))
d = r.to_dict()
elapsed = time.perf_counter() - t0
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
self_mb, kids_mb = me.ru_maxrss / 1024, kids.ru_maxrss / 1024
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
print(json.dumps({"seconds": elapsed, "cpu": cpu, "n": d["n_examples"],
                  "total": d["tokens"]["total"],
                  "assistant": d["tokens"]["assistant_total"],
                  "n_missing_system": d["stats"]["n_missing_system"],
                  "findings": d["findings_by_code"], "rss_mb": self_mb, "worker_rss_mb": kids_mb}))
"""


def run(code: str, *args: str) -> dict:
    env = {**os.environ, "CI": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
    )
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--model", default="gpt-4o-mini")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--scale", default="", help="comma-separated sizes: curate only, memory growth")
    ap.add_argument("--repeated", action="store_true", help="contents repeat (see generate)")
    ap.add_argument(
        "--repeat", type=int, default=1, help="interleaved runs of both sides (median printed)"
    )
    args = ap.parse_args()
    from curate.tokens import model_spec

    enc = model_spec(args.model).encoding
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.jsonl"
        t = time.perf_counter()
        generate(path, args.n, repeated=args.repeated)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {args.n:,} examples ({size_mb:.0f} MB) in {time.perf_counter() - t:.1f}s; "
            f"{os.cpu_count()} cores; model {args.model} ({enc})"
        )
        bases, ours_runs = [], []
        for _ in range(args.repeat):  # interleaved, so both sides see the same machine
            bases.append(run(COOKBOOK, str(path), enc, str(ROOT)))
            ours_runs.append(run(CURATE, str(path), args.model, str(args.workers)))
        for base, ours in zip(bases, ours_runs, strict=True):
            agree = (base["n"], base["total"], base["assistant"], base["n_missing_system"]) == (
                ours["n"],
                ours["total"],
                ours["assistant"],
                ours["n_missing_system"],
            )
            if not agree:
                sys.exit(f"COUNTS DIFFER: cookbook {base} vs curate {ours}")
        print(f"{'':28}{'seconds':>10}{'CPU s':>8}{'ex/s':>12}{'peak MB':>10}")
        for i, (base, ours) in enumerate(zip(bases, ours_runs, strict=True)):
            rate = base["n"] / base["seconds"]
            label = "baseline: cookbook loop"
            print(
                f"{label:28}{base['seconds']:>10.2f}{base['cpu']:>8.2f}{rate:>12,.0f}"
                f"{base['rss_mb']:>10.0f}"
            )
            peak = max(ours["rss_mb"], ours["worker_rss_mb"])
            rate = ours["n"] / ours["seconds"]
            print(
                f"{'curate validate':28}{ours['seconds']:>10.2f}{ours['cpu']:>8.2f}{rate:>12,.0f}"
                f"{peak:>10.0f}  (main {ours['rss_mb']:.0f} MB, largest worker "
                f"{ours['worker_rss_mb']:.0f} MB)"
            )
            print(
                f"speed-up{f' (run {i + 1})' if args.repeat > 1 else ''}: "
                f"{base['seconds'] / ours['seconds']:.2f}x; counts agree: True "
                f"(total tokens {ours['total']:,}, assistant {ours['assistant']:,})"
            )
        if args.repeat > 1:
            pairs = zip(bases, ours_runs, strict=True)
            ratios = sorted(b["seconds"] / o["seconds"] for b, o in pairs)
            median = statistics.median(ratios)
            print(
                f"speed-up over {args.repeat} interleaved runs: median {median:.2f}x"
                f" (min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x); load average "
                f"{os.getloadavg()[0]:.2f}"
            )
        for size in [int(s) for s in args.scale.split(",") if s]:
            p2 = Path(d) / f"scale_{size}.jsonl"
            generate(p2, size, seed=1)
            r = run(CURATE, str(p2), args.model, str(args.workers))
            print(
                f"scale {size:>9,}: {r['seconds']:.2f}s, main {r['rss_mb']:.0f} MB, "
                f"largest worker {r['worker_rss_mb']:.0f} MB"
            )
            p2.unlink()


if __name__ == "__main__":
    main()
