from __future__ import annotations

import numpy as np
import pytest

from curate.dedup.lsh import candidates, lsh_params, verify
from curate.dedup.minhash import MinHasher, shingles


@pytest.mark.parametrize("t,perm", [(0.8, 128), (0.5, 128), (0.9, 256), (0.7, 64)])
def test_params_keep_recall_at_threshold(t: float, perm: int) -> None:
    b, r = lsh_params(t, perm)
    assert b * r <= perm
    assert 1 - (1 - t**r) ** b >= 0.98
    # one more row per band would miss more than 2% at the threshold
    assert (1 - t ** (r + 1)) ** (perm // (r + 1)) > 0.02


def test_params_reject_bad_threshold() -> None:
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        lsh_params(0.0, 128)


def test_candidates_find_similar_pairs_only_once() -> None:
    base = "the quick brown fox jumps over the lazy dog near the river bank today"
    docs = [
        shingles(base),
        shingles("completely unrelated words about databases and indexes here"),
        shingles(base + " again"),
        shingles(""),
        shingles(base),
    ]
    sig = MinHasher(128, seed=0).signatures(docs)
    pairs = candidates(sig, *lsh_params(0.8, 128))
    got = {tuple(p) for p in pairs.tolist()}
    assert {(0, 2), (0, 4), (2, 4)} <= got
    assert not any(3 in p or 1 in p for p in got)
    assert len(got) == len(pairs)
    assert all(i < j for i, j in got)


def test_large_bucket_is_linked_without_all_pairs() -> None:
    docs = [shingles("same words in every single document here")] * 300
    sig = MinHasher(16, seed=0).signatures(docs)
    pairs = candidates(sig, 16, 1)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ones = np.ones(len(pairs))
    n_comp, _ = connected_components(coo_matrix((ones, (pairs[:, 0], pairs[:, 1])), (300, 300)))
    assert n_comp == 1
    assert len(pairs) < 300 * 299 // 2


def test_verify_uses_exact_jaccard() -> None:
    docs = [shingles("a b c d e f g h i j"), shingles("a b c d e f g h i k"), shingles("x y z")]
    sig = MinHasher(128, seed=0).signatures(docs)
    pairs = np.array([[0, 1], [0, 2]])
    kept, sims = verify(pairs, sig, docs, 0.75)
    assert kept.tolist() == [[0, 1]]
    assert sims.tolist() == [7 / 9]
    kept, _ = verify(pairs, sig, docs, 0.8)
    assert kept.tolist() == []


def test_jaccard_many_matches_pairwise() -> None:
    from curate.dedup.lsh import ShingleStore, jaccard_many
    from curate.dedup.minhash import jaccard

    rng = np.random.default_rng(4)
    docs = [
        np.unique(rng.integers(0, 60, rng.integers(0, 40)).astype(np.uint32)) for _ in range(50)
    ]
    store = ShingleStore(np.concatenate(docs), np.array([len(d) for d in docs]))
    pairs = np.array([(i, j) for i in range(50) for j in range(i + 1, 50)])
    got = jaccard_many(pairs, store.flat, store.off, chunk=97)  # many small chunks
    want = [jaccard(docs[i], docs[j]) for i, j in pairs.tolist()]
    assert np.allclose(got, want)
