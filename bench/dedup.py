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

Multi-turn. A file of conversations that share turns, as chat dumps do (each
conversation of the samples whole, its prefixes, windows of consecutive turns, the same
greeting turn in front, word-edited copies), deduplicated by curate (default keep rule,
`--keep first`, `--no-containment`) and by datasketch's MinHashLSH as its documentation
dedups (insert a document unless a query finds an earlier one). Reported: examples kept,
the share of the input's distinct turns still present in the kept examples, and the
largest cluster's share of the input.

Scale. `curate dedup FILE -o OUT --json` as a subprocess on 100k..1M short chat examples
(real words, 5% exact and 5% near copies injected); wall time, CPU time and peak RSS of the
process tree (workers included), and how they grow.

The texts come from the public samples in `fixtures/samples/` (or `--samples DIR`);
without them, from generated words (said in the output: the numbers then do not compare
with the recorded ones).

    python bench/dedup.py                        # quality + multi-turn + scale up to 1,000,000
    python bench/dedup.py --sizes 100000,300000  # smaller scale run
    python bench/dedup.py --no-scale             # quality and multi-turn only
    python bench/dedup.py --no-scale --no-quality --multi-turn 50000
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
#: the public samples (``--samples`` overrides); ``None``: generated texts instead
SAMPLES: Path | None = ROOT / "fixtures" / "samples"
if not SAMPLES.is_dir():
    SAMPLES = None
RATES = (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.3)


# -- data ---------------------------------------------------------------------------------


def _sharegpt(conv: list[dict[str, Any]]) -> list[dict[str, str]]:
    roles = {"human": "user", "gpt": "assistant", "system": "system"}
    return [
        {"role": roles.get(m.get("from", ""), "tool"), "content": str(m.get("value", ""))}
        for m in conv
    ]


def _json_rows(name: str) -> list[Any]:
    """The rows of a sample file (a JSON array or JSONL); none when it is missing."""
    if SAMPLES is None or not (SAMPLES / name).is_file():
        return []
    text = (SAMPLES / name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sample_conversations() -> list[list[dict[str, str]]]:
    """The multi-turn conversations of the samples (ShareGPT demos, DPO prompts with their
    chosen answer)."""
    convs = []
    for name in ("dummy_conversation.json", "glaive_toolcall_en_demo.json"):
        convs += [_sharegpt(r["conversations"]) for r in _json_rows(name)]
    for r in _json_rows("dpo_en_demo.json"):
        chosen = {"role": "assistant", "content": r["chosen"]["value"]}
        convs.append([*_sharegpt(r["conversations"]), chosen])
    return convs


def real_records() -> list[dict[str, Any]]:
    """Every example of the public samples, as chat records (generated ones when the
    samples are not there)."""
    recs: list[dict[str, Any]] = []
    for r in _json_rows("alpaca_en_demo.json"):
        user = r["instruction"] + ("\n\n" + r["input"] if r.get("input") else "")
        recs.append({"messages": [{"role": "user", "content": user},
                                  {"role": "assistant", "content": r["output"]}]})  # fmt: skip
    recs += [{"messages": c} for c in sample_conversations()]
    recs += _json_rows("toy_chat_fine_tuning.jsonl")
    for name in ("alignment_mini_lab_dpo_train.jsonl", "trl_preference_zh.jsonl"):
        for r in _json_rows(name):
            recs.append({"messages": [{"role": "user", "content": r["prompt"]},
                                      {"role": "assistant", "content": r["chosen"]}]})  # fmt: skip
    return recs or generated_records(2300, seed=0)


def generated_words(n: int, seed: int) -> list[str]:
    """``n`` pronounceable made-up words (the stand-in for real text without samples)."""
    rng = random.Random(seed)
    syll = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    return ["".join(rng.choice(syll) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def generated_text(rng: random.Random, vocab: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, hi)))


def generated_records(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` made-up chat examples of 1 to 3 turn pairs."""
    rng = random.Random(seed)
    vocab = generated_words(3000, seed)
    recs = []
    for _ in range(n):
        msgs = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            msgs.append({"role": "user", "content": generated_text(rng, vocab, 5, 30)})
            msgs.append({"role": "assistant", "content": generated_text(rng, vocab, 10, 120)})
        recs.append({"messages": msgs})
    return recs


def source_note() -> str:
    if SAMPLES is None:
        return "generated words (no public samples found; not comparable to recorded runs)"
    return f"public samples in {SAMPLES}"


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
    print(f"texts: {source_note()}")
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
                      feats.answer_chars, feats.windows, sig, feats.sh_flat,
                      feats.sh_len)  # fmt: skip
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


# -- multi-turn ---------------------------------------------------------------------------

GREETINGS = (
    ("Hi!", "Hello! How can I help you today?"),
    ("Hello", "Hi there! What can I do for you?"),
    ("hey, are you there?", "Yes, I am here. What would you like to talk about?"),
)


def _pair_starts(conv: list[dict[str, str]]) -> list[int]:
    return [i for i, m in enumerate(conv) if m["role"] == "user"]


def multi_turn_bases(seed: int) -> list[list[dict[str, str]]]:
    """The conversations the multi-turn set is drawn from."""
    convs = [c for c in sample_conversations() if len(c) >= 2]
    if not convs:
        convs = [r["messages"] for r in generated_records(800, seed) if len(r["messages"]) >= 2]
    return convs


def multi_turn_corpus(n: int, seed: int) -> tuple[list[dict[str, Any]], list[frozenset[Any]]]:
    """``n`` conversations that share turns the way chat dumps do: from each conversation
    of the samples (or generated ones), drawn at random, the whole conversation (35%), a
    prefix of it (25%), a window of consecutive turns starting at a user turn (15%), the
    whole or a prefix behind a common greeting turn (15%), or a copy with 2% of its words
    edited (10%). Exact copies happen naturally (the same conversation drawn twice).

    Returns the records and, for each, the original turns it carries (normalised role and
    text; an edited copy carries the turns it was made from)."""
    rng = random.Random(seed)
    convs = multi_turn_bases(seed)
    vocab = sorted({w for c in convs for m in c for w in str(m["content"]).split()})
    out: list[dict[str, Any]] = []
    origins: list[frozenset[Any]] = []
    while len(out) < n:
        conv = rng.choice(convs)
        starts = _pair_starts(conv) or [0]
        x = rng.random()
        if x < 0.35:
            msgs = conv
        elif x < 0.60:
            msgs = conv[: rng.choice([*starts[1:], len(conv)])]
        elif x < 0.75:
            a = rng.choice(starts)
            ends = [s for s in starts if s > a] + [len(conv)]
            msgs = conv[a : rng.choice(ends)]
        elif x < 0.90:
            g = rng.choice(GREETINGS)
            greet = [{"role": "user", "content": g[0]}, {"role": "assistant", "content": g[1]}]
            msgs = greet + conv[: rng.choice([*starts[1:], len(conv)])]
        else:
            msgs = edit({"messages": conv}, 0.02, vocab, rng)["messages"]
            origins.append(frozenset(distinct_turns([{"messages": conv}])))
            out.append({"messages": msgs})
            continue
        if msgs:
            out.append({"messages": [dict(m) for m in msgs]})
            origins.append(frozenset(distinct_turns([out[-1]])))
    return out, origins


def distinct_turns(recs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The normalised non-system turns of ``recs`` (role and text)."""
    from curate.dedup.text import normalize_text, raw_turns

    return {
        (role, normalize_text(text))
        for r in recs
        for role, text in raw_turns(r)
        if role not in ("system", "developer")
    }


def datasketch_dedup(
    sh: list[np.ndarray], threshold: float, num_perm: int
) -> tuple[list[int], int]:
    """datasketch's documented dedup: in input order, a document is kept (inserted) unless
    a query finds an earlier kept one. Returns the kept indices and the largest number of
    documents attributed to one kept document (itself included)."""
    from datasketch import MinHash, MinHashLSH

    mhs = MinHash.bulk(datasketch_input(sh), num_perm=num_perm, seed=1)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: list[int] = []
    size: dict[int, int] = {}
    for i, m in enumerate(mhs):
        hits = lsh.query(m) if len(sh[i]) else []
        if hits:
            j = min(hits)
            size[j] = size.get(j, 1) + 1
            continue
        kept.append(i)
        if len(sh[i]):
            lsh.insert(i, m)
    return kept, max(size.values(), default=1)


def multi_turn(args: argparse.Namespace) -> bool:
    """curate's kept examples beside datasketch's on conversations that share turns."""
    from curate.dedup.core import Params, featurize
    from curate.dedup.run import dedup_paths

    n = args.multi_turn
    recs, origins = multi_turn_corpus(n, args.seed)
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    origin_of = dict(zip(lines, origins, strict=True))
    n_turns = sum(len(r["messages"]) for r in recs)
    # the original turns of the input (an edited copy's changed turn is not information)
    all_turns = frozenset().union(*origins) & distinct_turns(recs)

    def turn_shares(kept: list[str]) -> tuple[float, float]:
        """Shares of the original turns kept: word for word, and counting an edited copy
        as the turns it was made from."""
        exact = distinct_turns([json.loads(x) for x in kept]) & all_turns
        carried = frozenset().union(*(origin_of[x] for x in kept)) & all_turns
        return len(exact) / len(all_turns), len(carried) / len(all_turns)

    print(f"\n== multi-turn: {n:,} conversations ({n_turns / n:.1f} messages each on average, "
          f"{len(all_turns):,} distinct original turns), threshold {args.threshold}; texts: "
          f"{source_note()}")  # fmt: skip
    print(f"{'':34} {'':>7} {'':>7} {'turns kept':>10} {'(edited':>8} {'largest':>8}")
    print(f"{'tool':34} {'kept':>7} {'kept %':>7} {'exactly':>10} {'counts)':>8} {'cluster':>8} "
          f"{'time s':>7}")  # fmt: skip
    rows: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="curate-bench-dedup-") as d:
        src = Path(d) / "multi.jsonl"
        src.write_text("".join(x + "\n" for x in lines))
        for label, kw in (("curate (default: --keep longest)", {}),
                          ("curate --keep first", {"keep": "first"}),
                          ("curate --no-containment", {"containment": False})):  # fmt: skip
            t = time.perf_counter()
            s = dedup_paths(
                [src],
                Path(d) / "out.jsonl",
                threshold=args.threshold,
                num_perm=args.num_perm,
                workers=1,
                **kw,
            )  # type: ignore[arg-type]
            secs = time.perf_counter() - t
            exact, carried = turn_shares((Path(d) / "out.jsonl").read_text().splitlines())
            big = s.largest_cluster["share"] if s.largest_cluster else 0.0
            rows[label] = (carried, big)
            print(f"{label:34} {s.kept:7d} {s.kept / n:7.1%} {exact:10.2%} {carried:8.2%} "
                  f"{big:8.2%} {secs:7.1f}")  # fmt: skip
            if not kw:
                default = s
        print(f"   curate default: removed {default.removed_exact:,} exact, "
              f"{default.removed_near:,} near, {default.removed_contained:,} contained; "
              f"{default.clusters:,} clusters")  # fmt: skip
    feats = featurize(recs, Params(threshold=args.threshold, num_perm=args.num_perm))
    off = np.concatenate(([0], np.cumsum(feats.sh_len)))
    sh = [feats.sh_flat[off[i] : off[i + 1]] for i in range(n)]
    t = time.perf_counter()
    ds_kept, ds_big = datasketch_dedup(sh, args.threshold, args.num_perm)
    secs = time.perf_counter() - t
    ds_exact, ds_turns = turn_shares([lines[i] for i in ds_kept])
    print(f"{'datasketch MinHashLSH':34} {len(ds_kept):7d} {len(ds_kept) / n:7.1%} "
          f"{ds_exact:10.2%} {ds_turns:8.2%} {ds_big / n:8.2%} {secs:7.1f}")  # fmt: skip
    turns, big = rows["curate (default: --keep longest)"]
    ok = big <= 0.05 and turns >= ds_turns - 0.005
    print(f"target: the original turns datasketch keeps, within 0.5 point ({turns:.2%} vs "
          f"{ds_turns:.2%}), and no cluster over 5% of the input ({big:.2%}): "
          f"{'MET' if ok else 'NOT MET'}")  # fmt: skip
    return ok


# -- scale ------------------------------------------------------------------------------------


def write_short_examples(path: Path, n: int, seed: int) -> None:
    """``n`` short chat examples of real words (Alpaca), 5% exact copies (case and spacing
    changed) and 5% near copies (one word of the answer replaced). The other examples' words
    are drawn one by one (with the samples' frequencies), so the rate of chance near
    duplicates stays the same at any size (windows of one text, the earlier generator, made
    the candidate pairs grow with the square of the size: 2.8M at 1M, 52M at 5M)."""
    words: list[str] = []
    for r in _json_rows("alpaca_en_demo.json"):
        words += (r["instruction"] + " " + r["input"] + " " + r["output"]).split()
    words = words or generated_words(5000, seed)
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
            else:  # words drawn one by one: two fresh examples are alike only by chance
                u = " ".join(rng.choices(words, k=rng.randint(5, 20)))
                a = " ".join(rng.choices(words, k=rng.randint(10, 40)))
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
            assert s["read"] == s["kept"] + sum(v for k, v in s.items() if k.startswith("removed_"))
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
    ap.add_argument("--multi-turn", type=int, default=50_000, metavar="N",
                    help="conversations in the multi-turn set (0: skip it)")  # fmt: skip
    ap.add_argument("--samples", type=Path, help="folder of the public sample files")
    args = ap.parse_args()
    if args.samples is not None:
        global SAMPLES
        if not args.samples.is_dir():
            sys.exit(f"bench/dedup.py: --samples {args.samples}: not a folder")
        SAMPLES = args.samples
    ok = True
    if not args.no_quality:
        ok = quality(args) and ok
    if args.multi_turn:
        ok = multi_turn(args) and ok
    if not args.no_scale:
        ok = scale(args) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
