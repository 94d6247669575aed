"""Benchmark ``curate split`` on a large synthetic chat JSONL file.

    python bench/split.py                 # 1,000,000 examples, near-duplicates off and on
    python bench/split.py --n 200000 --no-near-run
    python bench/split.py --n 200000 --keep /tmp/in.jsonl --compare   # + exact-Jaccard check

Prints, for each run, wall time, examples/s, CPU seconds (the run's process and its
worker pool) and peak RSS (the largest of the process and its workers), next to a named
baseline measured in the same run: ``baseline: read+json.loads x2`` (two plain passes
that read every line and parse it with ``json.loads``: the floor any two-pass splitter
pays). Each run is a fresh process, so its peak RSS is its own. The data is shaped like
``curate ingest`` output (``id``, ``source``): 3-message conversations of ~60 tokens, 3%
exact duplicates, 3% sharing a prompt with another example, 2% near-duplicates (a copy
of an earlier example with one word and 0-3.5% of the others replaced: Jaccard over word
3-grams from about 0.65 to 0.97, half of them at or above 0.8), ``metadata.lang`` in 4
values. The load average is printed too: other work on the machine slows the wall times
(CPU seconds are steadier).

``--compare`` also groups the same examples the way ``curate dedup`` verifies pairs
(exact Jaccard over stored shingles, :meth:`curate.dedup.DuplicateIndex.solve`) and
prints how the split's groups (fixed-size signatures, exact Jaccard only for pairs near
the threshold: :mod:`curate.dedup.group`) differ: groups, near-duplicate pairs linked by
one and not the other, examples whose group differs, exact-Jaccard groups cut apart
(the direction that could leak).
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


def _edit(rnd: random.Random, text: str, rate: float, *, force: bool) -> str:
    words = text.split()
    forced = rnd.randrange(len(words)) if force else -1  # at least one edit
    for k in range(len(words)):
        if k == forced or rnd.random() < rate:
            words[k] = rnd.choice(WORDS) + "x"
    return " ".join(words)


def make_file(path: Path, n: int, seed: int = 1, near_rate: float = 0.02) -> None:
    rnd = random.Random(seed)
    langs = ["en", "de", "fr", "ja"]
    prompts: list[str] = []
    recent: list[tuple[str, str]] = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            r = rnd.random()
            if r < near_rate and recent:  # a near-duplicate of an earlier example
                u0, a0 = rnd.choice(recent)
                rate = rnd.uniform(0.0, 0.035)
                user, answer = _edit(rnd, u0, rate, force=False), _edit(rnd, a0, rate, force=True)
            elif r < near_rate + 0.03 and prompts:
                user = rnd.choice(prompts)
                answer = " ".join(rnd.choices(WORDS, k=20)) + f" {i}"
            else:
                user = " ".join(rnd.choices(WORDS, k=15)) + f" #{i}"
                answer = " ".join(rnd.choices(WORDS, k=25))
                if len(prompts) < 10000:
                    prompts.append(user)
                if len(recent) < 10000:
                    recent.append((user, answer))
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


def run_one(src: Path, out: Path, near: bool, fmt: str) -> dict[str, object]:
    """One split in this (fresh) process: its numbers."""
    from curate.split import SplitOptions, split_path

    t = time.perf_counter()
    m = split_path(src, out, SplitOptions(eval_fraction=0.1, near=near, format=fmt))
    return {
        "wall": time.perf_counter() - t,
        "cpu": cpu_seconds(),
        "rss": peak_rss_mb(),
        "counts": m["counts"],
        "groups": m["groups"],
        "leakage": m["leakage"],
    }


def compare(src: Path) -> dict[str, object]:
    """The split's near-duplicate groups against groups whose near pairs are verified by
    exact Jaccard over stored shingles (``curate dedup``'s verification)."""
    import numpy as np

    from curate.dedup import DuplicateIndex, Params, featurize
    from curate.split import SplitOptions, _group, group_labels, near_edges, scan_file

    opts = SplitOptions(eval_fraction=0.1)
    scan = scan_file(str(src), opts, lambda row: None, None)
    idx = np.flatnonzero(~scan.preference)
    labels, n_groups, _, _ = _group(scan, idx, opts, str(src))
    sig_pairs = near_edges(scan, idx, str(src))
    params = Params(threshold=opts.near_threshold, seed=opts.seed)
    index = DuplicateIndex(params)
    wanted = set(scan.line[idx].tolist())
    batch: list[object] = []
    with open(src, "rb") as f:
        for no, raw in enumerate(f, 1):
            if no in wanted:
                batch.append(json.loads(raw))
                if len(batch) == 4000:
                    index.add(featurize(batch, params))
                    batch = []
    if batch:
        index.add(featurize(batch, params))
    plan = index.solve()
    keys = [scan.cluster_hash[idx], scan.prompt_hash[idx]]
    ex_labels, ex_groups = group_labels(len(idx), keys, plan.pairs)
    # a containment pair is linked by both (same keys), so compare the Jaccard pairs
    sp = {tuple(p) for p in sig_pairs.tolist()}
    xp = {tuple(p) for p in plan.pairs.tolist()}
    joint = ex_labels * n_groups + labels
    _, inv, size_ab = np.unique(joint, return_inverse=True, return_counts=True)
    size_ab = size_ab[inv]
    size_sig = np.bincount(labels)[labels]
    size_ex = np.bincount(ex_labels)[ex_labels]
    return {
        "groups_split": n_groups,
        "groups_exact_jaccard": ex_groups,
        "pairs_split": len(sp),
        "pairs_exact_jaccard": len(xp),
        "exact_pairs_not_linked": len(xp - sp),
        "extra_pairs_linked": len(sp - xp),
        "examples_group_differs": int(((size_ab != size_sig) | (size_ab != size_ex)).sum()),
        # an exact-Jaccard group cut in parts by the split's grouping could leak
        "exact_groups_split": len(np.unique(ex_labels[size_ab < size_ex])),
        "split_groups_merging": len(np.unique(labels[size_ab < size_sig])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--format", default="openai")
    ap.add_argument("--no-near-run", action="store_true", help="skip the near-duplicate run")
    ap.add_argument("--keep", type=Path, help="reuse/keep the generated input here")
    ap.add_argument("--compare", action="store_true", help="compare with exact-Jaccard groups")
    ap.add_argument("--_run", nargs=3, help=argparse.SUPPRESS)  # src out near: one child run
    ap.add_argument("--_compare", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._run:
        src, out, near = args._run
        print(json.dumps(run_one(Path(src), Path(out), near == "1", args.format)))
        return
    if args._compare:
        print(json.dumps(compare(args._compare)))
        return

    import subprocess

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
    me = [sys.executable, __file__, "--format", args.format]
    for name, near in runs:
        out = tmp / f"out-{near}"
        res = subprocess.run(
            [*me, "--_run", str(src), str(out), "1" if near else "0"],
            check=True, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        r = json.loads(res.stdout.strip().splitlines()[-1])
        c, g = r["counts"], r["groups"]
        dt = r["wall"]
        print(
            f"{name:<33} {dt:7.1f}s  {n_lines / dt:10,.0f} lines/s  {dt / b:4.1f}x baseline  "
            f"cpu {r['cpu']:,.0f}s  peak RSS {r['rss']:,.0f} MB  "
            f"train {c['train']:,} eval {c['eval']:,} groups {g['total']:,} "
            f"(multi {g['multi_example']:,}, largest {g['largest']}) "
            f"straddling {r['leakage']['groups_straddling']}",
            flush=True,
        )
    if args.compare:
        res = subprocess.run([*me, "--_compare", str(src)], check=True, stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
        r = json.loads(res.stdout.strip().splitlines()[-1])
        vs = ", ".join(f"{k} {v:,}" for k, v in r.items())
        print(f"split near grouping vs exact-Jaccard grouping: {vs}")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
