"""Benchmark ``curate ingest`` on a large Alpaca JSON array (default 50,000 records).

    python bench/ingest.py              # 50,000 records
    python bench/ingest.py --n 200000

The records are the public LLaMA-Factory ``alpaca_en_demo.json`` rows repeated with a
counter appended (so ids differ), written as one pretty-printed JSON array. Prints wall
time, records/s and peak RSS of each run next to a named baseline measured in the same run:
``baseline: json.load + dumps`` (load the whole array, turn each row into two messages,
write JSONL: the naive in-memory converter). Then checks the output with
``curate.validate.validate_path`` (no format errors allowed) and that
``read == written + rejected``. Each measurement runs in its own process so its peak RSS
is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "alpaca_en_demo.json"


def make_input(path: Path, n: int) -> None:
    if SAMPLE.exists():
        base = json.loads(SAMPLE.read_text(encoding="utf-8"))
    else:
        base = [{"instruction": "Say hi.", "input": "", "output": "Hi!"}]
    rows = []
    for i in range(n):
        r = dict(base[i % len(base)])
        r["output"] = f"{r['output']} ({i})"
        rows.append(r)
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")


def run_ingest(src: str, out: str, q: mp.Queue) -> None:
    from curate.ingest import ingest_paths

    t = time.perf_counter()
    rep = ingest_paths([src], out)
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put(("curate ingest", dt, rss, rep.read, rep.written, rep.rejected))


def run_baseline(src: str, out: str, q: mp.Queue) -> None:
    t = time.perf_counter()
    with open(src, encoding="utf-8") as f:
        rows = json.load(f)
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            user = r["instruction"] + ("\n" + r["input"] if r.get("input") else "")
            msgs = [
                {"role": "user", "content": user},
                {"role": "assistant", "content": r["output"]},
            ]
            f.write(json.dumps({"messages": msgs}, ensure_ascii=False) + "\n")
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put(("baseline: json.load + dumps", dt, rss, len(rows), len(rows), 0))


def measure(fn, src: str, out: str) -> tuple:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(src, out, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "alpaca_big.json"
        # in a child process, so this process (and the children forked from it) stay small
        ctx = mp.get_context("spawn")
        maker = ctx.Process(target=make_input, args=(src, args.n))
        maker.start()
        maker.join()
        mb = src.stat().st_size / 1e6
        print(f"input: {args.n:,} Alpaca records, {mb:.1f} MB JSON array")
        results = [
            measure(run_baseline, str(src), str(Path(d) / "base.jsonl")),
            measure(run_ingest, str(src), str(Path(d) / "out.jsonl")),
        ]
        for name, dt, rss, read, written, rejected in results:
            print(
                f"{name:28} {dt:7.2f} s  {read / dt:10,.0f} rec/s  peak RSS {rss:7.0f} MB  "
                f"read {read:,} written {written:,} rejected {rejected:,}"
            )
        base, ours = results
        print(
            f"ratio curate/baseline: time {ours[1] / base[1]:.2f}x, "
            f"peak RSS {ours[2] / base[2]:.2f}x"
        )
        ok = ours[3] == ours[4] + ours[5] == args.n and ours[5] == 0
        from curate.validate import validate_path

        t = time.perf_counter()
        rep = validate_path([Path(d) / "out.jsonl"])
        errors = rep.total.severity_counts.get("error", 0)
        print(
            f"curate validate: {rep.total.n_examples:,} examples, {errors} errors "
            f"({time.perf_counter() - t:.1f} s)"
        )
        ok = ok and errors == 0 and rep.total.n_examples == args.n
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
