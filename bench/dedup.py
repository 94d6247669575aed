"""Benchmark: `curate dedup` against datasketch's MinHashLSH, same documents, same run.

Quality. Real texts from the public samples (Alpaca, ShareGPT-style Vicuna and Glaive
conversations, DPO pairs, OpenAI chat, a Chinese preference set), exact copies removed,
plus injected near-duplicates: word-level edits (substitute, delete, insert, swap) at known
rates from 1% to 30%. Both tools get the same word 3-gram shingles (curate's), the same
threshold and the same number of permutations. Ground truth is the definition the
threshold states: every pair whose exact Jaccard of those shingles is >= the threshold,
found by brute force (a sparse matrix product over all pairs), so natural duplicates in the
real data count too. Precision, recall and F1 are over pairs. A second table shows, per
injected edit rate, the mean true Jaccard of base/variant pairs and the share each tool
found. Time is signatures + LSH (+ curate's verification) on precomputed shingles, one
process each, best of 3 runs; peak memory is tracemalloc's peak in a separate run.

Scale. `curate dedup FILE -o OUT --json` as a subprocess on 100k..1M short chat examples
(real words, 5% exact and 5% near copies injected); wall time, CPU time and peak RSS of the
process tree (workers included), and how they grow.

    python bench/dedup.py                        # quality + scale up to 1,000,000
    python bench/dedup.py --sizes 100000,300000  # smaller scale run
    python bench/dedup.py --no-scale             # quality only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"
RATES = (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3)


# -- data ---------------------------------------------------------------------------------


def _sharegpt(conv: list[dict[str, Any]]) -> list[dict[str, str]]:
    roles = {"human": "user", "gpt": "assistant", "system": "system"}
    return [
        {"role": roles.get(m.get("from", ""), "tool"), "content": str(m.get("value", ""))}
        for m in conv
    ]


def real_records() -> list[dict[str, Any]]:
    """Every example of the public samples, as chat records."""
    if not SAMPLES.is_dir():
        sys.exit(f"bench/dedup.py: public samples not found at {SAMPLES}")
    recs: list[dict[str, Any]] = []
    for r in json.loads((SAMPLES / "alpaca_en_demo.json").read_text()):
        user = r["instruction"] + ("\n\n" + r["input"] if r.get("input") else "")
        recs.append({"messages": [{"role": "user", "content": user},
                                  {"role": "assistant", "content": r["output"]}]})  # fmt: skip
    for name in ("dummy_conversation.json", "glaive_toolcall_en_demo.json"):
        for r in json.loads((SAMPLES / name).read_text()):
            recs.append({"messages": _sharegpt(r["conversations"])})
    for r in json.loads((SAMPLES / "dpo_en_demo.json").read_text()):
        msgs = _sharegpt(r["conversations"])
        recs.append({"messages": [*msgs, {"role": "assistant", "content": r["chosen"]["value"]}]})
    for line in (SAMPLES / "toy_chat_fine_tuning.jsonl").read_text().splitlines():
        if line.strip():
            recs.append(json.loads(line))
    for line in (SAMPLES / "alignment_mini_lab_dpo_train.jsonl").read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            recs.append({"messages": [{"role": "user", "content": r["prompt"]},
                                      {"role": "assistant", "content": r["chosen"]}]})  # fmt: skip
    return recs


def edit(rec: dict[str, Any], rate: float, vocab: list[str], rng: random.Random) -> dict[str, Any]:
    """A copy with about ``rate`` of its words edited (at least one edit)."""
    out = json.loads(json.dumps(rec))
    msgs = [m for m in out["messages"] if isinstance(m.get("content"), str) and m["content"]]
    total = sum(len(m["content"].split()) for m in msgs)
    n_edits = max(1, round(rate * total))
    for _ in range(n_edits):
        m = rng.choice(msgs)
        ws = m["content"].split()
        if not ws:
            continue
        k = rng.randrange(len(ws))
        op = rng.randrange(4)
        new = rng.choice(vocab)
        while new.lower() == ws[k].lower():
            new = rng.choice(vocab)
        if op == 0:
            ws[k] = new
        elif op == 1 and len(ws) > 1:
            del ws[k]
        elif op == 2:
            ws.insert(k, new)
        elif k + 1 < len(ws) and ws[k].lower() != ws[k + 1].lower():
            ws[k], ws[k + 1] = ws[k + 1], ws[k]
        else:
            ws[k] = new
        m["content"] = " ".join(ws)
    return out


def labelled_corpus(seed: int) -> tuple[list[dict[str, Any]], list[tuple[int, int, float]]]:
    """Real bases plus injected variants, shuffled; returns the records and the injected
    (base position, variant position, edit rate) triples."""
    from curate.dedup.text import exact_key

    rng = random.Random(seed)
    seen: set[bytes] = set()
    bases = []
    for r in real_records():
        k = exact_key(r)
        if k not in seen:
            seen.add(k)
            bases.append(r)
    vocab = sorted({w for r in bases for m in r["messages"] for w in str(m["content"]).split()})
    docs: list[tuple[dict[str, Any], int, float]] = [(r, i, 0.0) for i, r in enumerate(bases)]
    for i, r in enumerate(bases):
        for _ in range(rng.choice((0, 1, 1, 2))):
            docs.append((edit(r, rate := rng.choice(RATES), vocab, rng), i, rate))
    rng.shuffle(docs)
    pos_of_base = {b: p for p, (_, b, rate) in enumerate(docs) if rate == 0.0}
    injected = [(pos_of_base[b], p, rate) for p, (_, b, rate) in enumerate(docs) if rate > 0]
    return [d[0] for d in docs], injected


# -- ground truth ---------------------------------------------------------------------------


def true_pairs(sh: list[np.ndarray], threshold: float) -> dict[tuple[int, int], float]:
    """All pairs with exact Jaccard >= threshold (sparse matrix product, brute force)."""
    from scipy import sparse

    lens = np.array([len(s) for s in sh])
    rows = np.repeat(np.arange(len(sh)), lens)
    cols_raw = np.concatenate(sh).astype(np.int64)
    _, cols = np.unique(cols_raw, return_inverse=True)
    m = sparse.csr_matrix(
        (np.ones(len(rows), np.int32), (rows, cols)), shape=(len(sh), cols.max() + 1)
    )
    inter = sparse.triu(m @ m.T, k=1).tocoo()
    union = lens[inter.row] + lens[inter.col] - inter.data
    jac = inter.data / union
    ok = jac >= threshold - 1e-12
    out = {
        (int(i), int(j)): float(x)
        for i, j, x in zip(inter.row[ok], inter.col[ok], jac[ok], strict=True)
    }
    # documents with no shingles: equal to each other (Jaccard 1 by convention)
    empty = np.flatnonzero(lens == 0).tolist()
    for a in range(len(empty)):
        for b in range(a + 1, len(empty)):
            out[(empty[a], empty[b])] = 1.0
    return out


# -- the two tools ----------------------------------------------------------------------------


def run_curate(feats: Any, threshold: float, num_perm: int) -> set[tuple[int, int]]:
    """curate's pairs: LSH candidates verified by exact Jaccard, exact copies expanded."""
    from curate.dedup.core import EXACT, DuplicateIndex, Params, featurize  # noqa: F401

    idx = DuplicateIndex(Params(threshold=threshold, num_perm=num_perm))
    idx.add(feats)
    plan = idx.solve()
    group = np.where(plan.status == EXACT, plan.dup_of, np.arange(len(plan.status)))
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group.tolist()):
        members.setdefault(g, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for ms in members.values():
        pairs.update((a, b) for x, a in enumerate(ms) for b in ms[x + 1 :])
    for a, b in plan.pairs.tolist():
        pairs.update((min(x, y), max(x, y)) for x in members[a] for y in members[b])
    return pairs


def datasketch_input(sh: list[np.ndarray]) -> list[list[bytes]]:
    """The same shingles as datasketch takes them (bytes; converted outside the timing)."""
    return [[int(x).to_bytes(4, "little") for x in s.tolist()] for s in sh]


def run_datasketch(
    sh: list[np.ndarray], data: list[list[bytes]], threshold: float, num_perm: int
) -> set[tuple[int, int]]:
    """datasketch as documented: MinHash.bulk over the same shingles, MinHashLSH insert,
    then query every document; every returned pair is a duplicate."""
    from datasketch import MinHash, MinHashLSH

    mhs = MinHash.bulk(data, num_perm=num_perm, seed=1)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    with lsh.insertion_session() as session:
        for i, m in enumerate(mhs):
            if len(sh[i]):
                session.insert(i, m)
    pairs: set[tuple[int, int]] = set()
    for i, m in enumerate(mhs):
        if not len(sh[i]):
            continue
        for j in lsh.query(m):
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    return pairs


def measure(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float, float]:
    """(result, seconds, tracemalloc peak MiB): the best of ``repeat`` timed runs (the
    machine may be shared), then one traced run for memory."""
    secs = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        secs = min(secs, time.perf_counter() - t)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, secs, peak / 2**20


def prf(pred: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float, float]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def quality(args: argparse.Namespace) -> bool:
    from curate.dedup.core import Features, Params, featurize
    from curate.dedup.minhash import MinHasher

    recs, injected = labelled_corpus(args.seed)
    params = Params(threshold=args.threshold, num_perm=args.num_perm)
    t = time.perf_counter()
    feats: Features = featurize(recs, params)
    t_feat = time.perf_counter() - t
    off = np.concatenate(([0], np.cumsum(feats.sh_len)))
    sh = [feats.sh_flat[off[i] : off[i + 1]] for i in range(len(recs))]
    truth = true_pairs(sh, args.threshold)
    truth_set = set(truth)
    print(f"== quality: {len(recs)} documents ({len(recs) - len(injected)} real, "
          f"{len(injected)} injected variants), threshold {args.threshold}, "
          f"{args.num_perm} permutations, word 3-grams")  # fmt: skip
    print(f"   ground truth: {len(truth_set)} pairs with exact Jaccard >= {args.threshold} "
          f"(all {len(recs) * (len(recs) - 1) // 2:,} pairs checked)")  # fmt: skip

    hasher = MinHasher(args.num_perm, params.seed)

    def curate_fn() -> set[tuple[int, int]]:
        sig = hasher.signatures_flat(feats.sh_flat, feats.sh_len)
        f2 = Features(feats.exact, feats.prompt, feats.answer, feats.conv, feats.n_turns,
                      feats.windows, sig, feats.sh_flat, feats.sh_len)  # fmt: skip
        return run_curate(f2, args.threshold, args.num_perm)

    ds_data = datasketch_input(sh)
    results: dict[str, tuple[set[tuple[int, int]], float, float]] = {}
    results["curate"] = measure(curate_fn)
    results["datasketch MinHashLSH"] = measure(
        lambda: run_datasketch(sh, ds_data, args.threshold, args.num_perm)
    )
    ds_pairs = results["datasketch MinHashLSH"][0]
    ds_ver = {p for p in ds_pairs if p in truth}
    head = f"{'precision':>9} {'recall':>7} {'F1':>7} {'pairs':>7} {'time s':>8} {'peak MiB':>9}"
    print(f"\n{'tool':34} {head}")
    for name, (pred, secs, mib) in results.items():
        p, r, f1 = prf(pred, truth_set)
        print(f"{name:34} {p:9.4f} {r:7.4f} {f1:7.4f} {len(pred):7d} {secs:8.3f} {mib:9.1f}")
    p, r, f1 = prf(ds_ver, truth_set)
    print(f"{'(datasketch + exact verification)':34} {p:9.4f} {r:7.4f} {f1:7.4f} {len(ds_ver):7d} "
          f"{'-':>8} {'-':>9}")  # fmt: skip
    print(
        f"   (curate's normalisation + shingling + keys for all documents: {t_feat:.3f} s, "
        "not counted above; both tools use its shingles)"
    )

    print(
        "\nper injected edit rate (base vs. variant pairs; a pair below the threshold is "
        "correctly left alone)"
    )
    head = f"{'J>=t':>6} {'curate found':>13} {'datasketch found':>17}"
    print(f"{'rate':>5} {'pairs':>6} {'mean J':>7} {head}")
    cur = results["curate"][0]
    for rate in RATES:
        ps = [(min(a, b), max(a, b)) for a, b, r in injected if r == rate]
        if not ps:
            continue
        js = [_jac(sh[a], sh[b]) for a, b in ps]
        above = sum(j >= args.threshold for j in js)
        c = sum(p in cur for p in ps)
        d = sum(p in ds_pairs for p in ps)
        print(f"{rate:5.2f} {len(ps):6d} {np.mean(js):7.3f} {above:6d} {c:13d} {d:17d}")

    (cp, cr, cf), (_, _, df) = prf(cur, truth_set), prf(ds_pairs, truth_set)
    speed = results["datasketch MinHashLSH"][1] / results["curate"][1]
    ok = cf >= df and speed >= 3 and cp >= 0.95 and cr >= 0.90
    print(
        f"\ntarget: F1 >= datasketch ({cf:.4f} vs {df:.4f}), >= 3x faster ({speed:.1f}x), "
        f"precision >= 0.95 ({cp:.4f}), recall >= 0.90 ({cr:.4f}): {'MET' if ok else 'NOT MET'}"
    )
    return ok


def _jac(a: np.ndarray, b: np.ndarray) -> float:
    from curate.dedup.minhash import jaccard

    return jaccard(a, b)


# -- scale ------------------------------------------------------------------------------------


def write_short_examples(path: Path, n: int, seed: int) -> None:
    """``n`` short chat examples of real words (Alpaca), 5% exact copies (case and spacing
    changed) and 5% near copies (one word of the answer replaced)."""
    words: list[str] = []
    for r in json.loads((SAMPLES / "alpaca_en_demo.json").read_text()):
        words += (r["instruction"] + " " + r["input"] + " " + r["output"]).split()
    rng = random.Random(seed)
    recent: list[str] = []
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            x = rng.random()
            if recent and x < 0.05:
                m = json.loads(rng.choice(recent))
                m["messages"][0]["content"] = " " + m["messages"][0]["content"].upper()
            elif recent and x < 0.10:
                m = json.loads(rng.choice(recent))
                a = m["messages"][1]["content"].split()
                a[rng.randrange(len(a))] = rng.choice(words)
                m["messages"][1]["content"] = " ".join(a)
            else:
                s = rng.randrange(len(words) - 60)
                u = " ".join(words[s : s + rng.randint(5, 20)])
                s = rng.randrange(len(words) - 60)
                a = " ".join(words[s : s + rng.randint(10, 40)])
                m = {
                    "messages": [
                        {"role": "user", "content": u},
                        {"role": "assistant", "content": a},
                    ]
                }
            line = json.dumps(m, ensure_ascii=False)
            recent.append(line)
            if len(recent) > 2000:
                recent = recent[-1000:]
            f.write(line + "\n")


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(d))
            rss[int(d)] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def run_cli(args: list[str]) -> tuple[dict[str, Any], float, float, float]:
    """(summary, wall s, CPU s, peak tree RSS MiB) of one `curate dedup` run."""
    exe = shutil.which("curate")
    cmd = (
        [exe, *args]
        if exe
        else [sys.executable, "-c", "from curate.cli import main; main()", *args]
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.1)
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"curate dedup failed ({proc.returncode}): {err}")
    return json.loads(out), wall, cpu, peak / 2**20


def scale(args: argparse.Namespace) -> bool:
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"\n== scale: `curate dedup FILE -o OUT --json`, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    print(f"{'examples':>10} {'MB':>7} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} "
          f"{'kept':>9} {'exact':>7} {'near':>7} {'time x':>7} {'mem x':>6}")  # fmt: skip
    ok = True
    first: tuple[float, float] | None = None
    with tempfile.TemporaryDirectory(prefix="curate-bench-dedup-") as d:
        for n in sizes:
            src = Path(d) / f"in-{n}.jsonl"
            write_short_examples(src, n, args.seed)
            s, wall, cpu, mib = run_cli(
                ["dedup", str(src), "-o", str(Path(d) / "out.jsonl"), "--json"]
            )
            assert (
                s["read"]
                == s["kept"] + s["removed_exact"] + s["removed_near"] + s["removed_invalid"]
            )
            first = first or (wall, mib)
            print(f"{n:10d} {src.stat().st_size / 1e6:7.1f} {wall:8.1f} {cpu:8.1f} {mib:9.0f} "
                  f"{s['kept']:9d} {s['removed_exact']:7d} {s['removed_near']:7d} "
                  f"{wall / first[0]:7.1f} {mib / first[1]:6.1f}")  # fmt: skip
            if n >= 1_000_000:
                ok = ok and wall < 300 and mib < 4096
            src.unlink()
    print(
        f"load average {os.getloadavg()[0]:.1f} at end (wall time grows with other load; "
        "CPU time does not)"
    )
    if any(n >= 1_000_000 for n in sizes):
        print(f"target: 1,000,000 examples in < 300 s with < 4 GB: {'MET' if ok else 'NOT MET'}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-quality", action="store_true")
    args = ap.parse_args()
    ok = True
    if not args.no_quality:
        ok = quality(args) and ok
    if not args.no_scale:
        ok = scale(args) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
