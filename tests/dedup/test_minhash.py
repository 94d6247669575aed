from __future__ import annotations

import numpy as np
import pytest

from curate.dedup.minhash import MinHasher, jaccard, shingle_batch, shingles, words


def test_words_split_cjk_into_characters() -> None:
    assert words("hello, world 42") == ["hello", "world", "42"]
    assert words("机器学习abc") == ["机", "器", "学", "习", "abc"]


def test_shingles_are_sorted_unique_and_short_texts_get_one() -> None:
    s = shingles("a b c a b c")
    assert s.dtype == np.uint32 and list(s) == sorted(set(s.tolist()))
    assert len(s) == 3  # abc, bca, cab
    assert len(shingles("one two")) == 1
    assert len(shingles("")) == 0
    assert len(shingles("a b c d", n=1)) == 4


def test_batch_matches_single_texts() -> None:
    texts = ["the cat sat on the mat", "", "x", "the cat sat on a mat", "机器学习是一种方法"]
    flat, lens = shingle_batch(texts)
    assert lens.tolist() == [len(shingles(t)) for t in texts]
    off = np.concatenate(([0], np.cumsum(lens)))
    for i, t in enumerate(texts):
        assert flat[off[i] : off[i + 1]].tolist() == shingles(t).tolist()


def test_signature_agreement_estimates_jaccard() -> None:
    rng = np.random.default_rng(1)
    a = np.unique(rng.integers(0, 2**32, 400, dtype=np.uint64).astype(np.uint32))
    b = np.unique(np.concatenate([a[:300], rng.integers(0, 2**32, 100).astype(np.uint32)]))
    true = jaccard(a, b)
    sig = MinHasher(num_perm=512, seed=3).signatures([a, b])
    assert abs(float((sig[0] == sig[1]).mean()) - true) < 0.06


def test_signatures_are_deterministic_and_seeded() -> None:
    docs = [shingles("a b c d e f"), shingles(""), shingles("x y z")]
    s1 = MinHasher(64, seed=0).signatures(docs)
    assert np.array_equal(s1, MinHasher(64, seed=0).signatures(docs))
    assert not np.array_equal(s1, MinHasher(64, seed=1).signatures(docs))
    assert (s1[1] == 0xFFFFFFFF).all()
    # many documents across chunk boundaries give the same rows as one at a time
    many = [shingles(f"doc {i} " * (i % 7 + 1) + "tail words here") for i in range(300)]
    mh = MinHasher(32, seed=5)
    flat = np.concatenate(many)
    lens = np.array([len(d) for d in many])
    together = mh.signatures_flat(flat, lens, chunk=32 * 50)
    alone = np.vstack([mh.signatures([d]) for d in many])
    assert np.array_equal(together, alone)


def test_bad_num_perm_and_jaccard_edges() -> None:
    with pytest.raises(ValueError, match="num_perm must be >= 1"):
        MinHasher(0)
    e = np.zeros(0, np.uint32)
    assert jaccard(e, e) == 1.0
    assert jaccard(e, np.array([1], np.uint32)) == 0.0
