"""curate.dedup.group: fixed-size sketches and signature-verified near-duplicate links."""

from __future__ import annotations

import random

import numpy as np
import pytest

from curate.dedup import DuplicateIndex, Params, featurize
from curate.dedup.group import NearGrouper, Sketch, candidates, margin, shingle_hashes, sketch
from curate.dedup.lsh import candidates as lsh_candidates
from curate.dedup.lsh import lsh_params
from curate.dedup.minhash import jaccard, shingle_batch
from curate.dedup.text import normalize_text, scope_turns

VOCAB = (
    "alpha beta gamma delta 東京 タワー 서울 été naïve x_y 42 a b c ß straße ﬁle !! -- , ."
).split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rnd = random.Random(seed)
    out = [normalize_text(" ".join(rnd.choices(VOCAB, k=rnd.randrange(0, 30)))) for _ in range(n)]
    return [*out, "", "   ", "!!", "a", "a b", "東", "line one\nline two"]


def test_shingle_hashes_cut_the_same_words_as_shingle_batch() -> None:
    texts = _texts(2000)
    flat, lens = shingle_hashes(texts)
    ref_flat, ref_lens = shingle_batch(texts)
    assert lens.tolist() == ref_lens.tolist()
    off = np.concatenate([[0], np.cumsum(lens)])
    ref_off = np.concatenate([[0], np.cumsum(ref_lens)])
    rnd = random.Random(1)
    for _ in range(3000):
        i, j = rnd.randrange(len(texts)), rnd.randrange(len(texts))
        ours = jaccard(flat[off[i] : off[i + 1]], flat[off[j] : off[j + 1]])
        ref = jaccard(ref_flat[ref_off[i] : ref_off[i + 1]], ref_flat[ref_off[j] : ref_off[j + 1]])
        assert ours == ref, (texts[i], texts[j])


def test_shingle_hashes_are_the_same_in_any_batch() -> None:
    texts = _texts(300, seed=2)
    flat, lens = shingle_hashes(texts)
    off = np.concatenate([[0], np.cumsum(lens)])
    for i in (0, 17, 299, len(texts) - 1):
        alone, n = shingle_hashes([texts[i]])
        assert n.tolist() == [lens[i]]
        assert alone.tolist() == flat[off[i] : off[i + 1]].tolist()


def _turns(user: str, answer: str) -> list[tuple[str, str]]:
    rec = {
        "messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    }
    return scope_turns(rec, "conversation")


def test_near_pair_is_linked_and_unrelated_ones_are_not() -> None:
    base = " ".join(f"word{k}" for k in range(40))
    docs = [
        _turns(base, "the answer is here"),
        _turns("something else entirely about databases", "no"),
        _turns(base + " extra", "the answer is here"),  # Jaccard 40/42
        _turns("", ""),
    ]
    g = NearGrouper(Params())
    g.add(sketch(docs, g.params))
    assert g.pairs().tolist() == [[0, 2]]
    valid = np.array([True, True, False, True])
    assert g.pairs(valid).tolist() == []


def test_contained_conversation_is_linked() -> None:
    def conv(*texts: str) -> list[tuple[str, str]]:
        roles = ["user", "assistant"] * 4
        return [("system", "be brief"), *zip(roles, texts, strict=False)]

    long = conv("q1 about cats", "a1 cats purr", "q2 about dogs", "a2 dogs bark")
    inner = [("user", "q2 about dogs"), ("assistant", "a2 dogs bark")]
    other = [("user", "q9 about fish"), ("assistant", "a9 fish swim")]
    g = NearGrouper(Params())
    g.add(sketch([other, long, inner], g.params))
    assert g.pairs().tolist() == [[1, 2]]


def test_batches_give_the_same_pairs_as_one_batch() -> None:
    rnd = random.Random(3)
    words = [f"w{k}" for k in range(300)]
    docs = []
    for _ in range(400):
        if docs and rnd.random() < 0.3:  # an edited copy of an earlier document
            src = rnd.choice(docs)
            docs.append([(r, t.replace(t.split()[0], "edited", 1)) for r, t in src])
        else:
            turns = [(("user", "assistant")[k % 2], " ".join(rnd.choices(words, k=30))) for k in
                     range(rnd.choice((2, 4, 6)))]  # fmt: skip
            docs.append(turns)
    p = Params()
    one = NearGrouper(p)
    one.add(sketch(docs, p))
    many = NearGrouper(p)
    for s in range(0, len(docs), 37):
        many.add(sketch(docs[s : s + 37], p))
    assert len(one.pairs()) > 50
    assert one.pairs().tolist() == many.pairs().tolist()


def test_eight_bit_candidates_include_every_32_bit_candidate() -> None:
    rnd = random.Random(4)
    words = [f"t{k}" for k in range(200)]
    base = [" ".join(rnd.choices(words, k=25)) for _ in range(150)]
    texts = base + [b.replace(b.split()[3], "zz", 1) for b in base[:100]]
    p = Params()
    sk = sketch([[("user", t)] for t in texts], p, bits=32)
    valid = np.ones(len(texts), dtype=bool)
    bands, rows = lsh_params(p.threshold, p.num_perm)
    ref = {tuple(x) for x in lsh_candidates(sk.sig, bands, rows, valid).tolist()}
    ours = {tuple(x) for x in candidates(sk.sig.astype(np.uint8), bands, rows, valid).tolist()}
    assert len(ref) >= 90
    assert ref <= ours


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_exact_jaccard_pairs_are_linked(bits: int) -> None:
    """Near-duplicates at Jaccard 0.8 to 1 (exact, as curate dedup verifies them): every
    pair from 0.85 up is linked, and nearly all from 0.8 (LSH and the estimate miss a
    pair right at the threshold with a small probability, as LSH does for curate dedup);
    the pairs linked besides are each above threshold - 2 margins."""
    rnd = random.Random(5)
    words = [f"v{k}" for k in range(500)]
    recs = []
    for _ in range(300):
        ws = rnd.choices(words, k=60)
        recs.append(ws)
        edited = ws[:]
        for _ in range(rnd.choice((1, 2, 3))):
            edited[rnd.randrange(60)] = "edit"
        recs.append(edited)
    data = [{"messages": [{"role": "user", "content": " ".join(ws)}]} for ws in recs]
    p = Params()
    index = DuplicateIndex(p)
    index.add(featurize(data, p))
    plan = index.solve()
    exact = dict(zip(map(tuple, plan.pairs.tolist()), plan.pair_sims.tolist(), strict=True))
    g = NearGrouper(p, bits=bits)
    g.add(sketch([scope_turns(d) for d in data], p, bits=bits))
    linked = {tuple(x) for x in g.pairs().tolist()}
    assert len(exact) > 150
    missed = set(exact) - linked
    assert all(exact[pr] < 0.85 for pr in missed)
    assert len(missed) <= 0.02 * len(exact)
    flat, lens = shingle_hashes([" ".join(ws) for ws in recs])
    off = np.concatenate([[0], np.cumsum(lens)])
    for i, j in linked - set(exact):
        sim = jaccard(flat[off[i] : off[i + 1]], flat[off[j] : off[j + 1]])
        assert sim >= p.threshold - 2 * margin(p.threshold, p.num_perm)


def test_estimate_is_corrected_for_low_bit_collisions() -> None:
    rnd = random.Random(6)
    texts = [" ".join(rnd.choices([f"u{k}" for k in range(10_000)], k=200)) for _ in range(200)]
    p = Params()
    full = sketch([[("user", t)] for t in texts], p, bits=32)
    pairs = np.array([(i, i + 1) for i in range(0, 199)])
    g8, g32 = NearGrouper(p, bits=8), NearGrouper(p, bits=32)
    e8 = g8.estimate(full.sig.astype(np.uint8), pairs)
    e32 = g32.estimate(full.sig, pairs)
    # unrelated texts: 32-bit estimates are ~0; 8 bits share ~1/256 by chance, corrected
    assert abs(float(e8.mean()) - float(e32.mean())) < 0.01
    same = np.array([[0, 0]])
    assert g8.estimate(full.sig.astype(np.uint8), same).tolist() == [1.0]


def test_margin_and_empty_grouper() -> None:
    assert round(margin(0.8, 128), 4) == 0.0884
    assert margin(0.9, 256) < margin(0.8, 128)
    g = NearGrouper(Params())
    assert g.pairs().shape == (0, 2)
    g.add(sketch([], g.params))
    assert g.pairs().shape == (0, 2)
    assert isinstance(sketch([[("user", "hi")]], g.params), Sketch)


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_signatures_are_the_low_bits_of_minhasher_values(bits: int) -> None:
    from curate.dedup.core import _hasher
    from curate.dedup.group import signatures

    flat, lens = shingle_hashes(_texts(500, seed=9))
    p = Params(num_perm=64)
    full = _hasher(64, 0).signatures_flat(flat, lens)
    for chunk in (64, 4096, 1 << 20):  # groups of one document up to all of them
        ours = signatures(flat, lens, p, bits, chunk=chunk)
        assert ours.dtype.itemsize * 8 == bits
        assert (ours == full.astype(ours.dtype)).all()


def test_close_calls_are_decided_by_exact_jaccard_within_the_budget() -> None:
    rnd = random.Random(8)
    words = [f"v{k}" for k in range(500)]
    texts = []
    for _ in range(300):
        ws = rnd.choices(words, k=50)
        texts.append(" ".join(ws))
        for _ in range(rnd.choice((1, 2, 3))):
            ws[rnd.randrange(50)] = "edit"
        texts.append(" ".join(ws))
    p = Params()
    g = NearGrouper(p)
    g.add(sketch([[("user", t)] for t in texts], p))
    asked: list[list[int]] = []

    def source(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        asked.append(docs.tolist())
        return shingle_hashes([texts[d] for d in docs.tolist()])

    exact = {tuple(x) for x in g.pairs(shingles=source).tolist()}
    stats = dict(g.stats)
    by_estimate = {tuple(x) for x in g.pairs(shingles=source, budget=0).tolist()}
    assert g.stats["exact_jaccard"] == 0 and len(asked) == 1
    assert stats["exact_jaccard"] > 20
    assert stats["exact_jaccard"] + stats["estimate"] == stats["candidates"]
    assert asked[0] == sorted(set(asked[0]))
    assert exact < by_estimate  # the estimate alone links some pairs under 0.8 besides
    flat, lens = shingle_hashes(texts)
    off = np.concatenate([[0], np.cumsum(lens)])
    sims = {(i, j): jaccard(flat[off[i] : off[i + 1]], flat[off[j] : off[j + 1]]) for i, j in exact}
    low = [pr for pr, s in sims.items() if s < p.threshold]
    assert len(low) <= 0.02 * len(exact)  # only an estimate above threshold + margin
    g.release()  # the sketches are freed: nothing left to link
    assert g.n == 0 and g.pairs().shape == (0, 2)
