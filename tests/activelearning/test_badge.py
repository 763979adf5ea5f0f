"""BADGE batches: uncertain, spread out, and computed without building gradient embeddings."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from activelearning.badge import badge_among_longest, badge_select, gradient_norms


def _explicit_embeddings(proba: np.ndarray, X: np.ndarray) -> np.ndarray:
    residual = proba.copy()
    residual[np.arange(len(proba)), proba.argmax(axis=1)] -= 1.0
    return np.stack([np.kron(a, x) for a, x in zip(residual, X, strict=True)])


def _random_problem(seed: int, n: int = 200, d: int = 6, k: int = 3):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, k))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return proba, rng.normal(size=(n, d))


def test_gradient_norms_equal_those_of_the_explicit_embeddings():
    proba, X = _random_problem(0)
    explicit = (_explicit_embeddings(proba, X) ** 2).sum(axis=1)
    np.testing.assert_allclose(gradient_norms(proba, X), explicit)


def test_picks_are_distinct_reproducible_and_start_at_the_longest_gradient():
    proba, X = _random_problem(1)
    first = badge_select(proba, X, 25, np.random.default_rng(7))
    again = badge_select(proba, X, 25, np.random.default_rng(7))
    assert len(set(first.tolist())) == 25
    np.testing.assert_array_equal(first, again)
    assert first[0] == np.argmax(gradient_norms(proba, X))


def test_a_second_pick_comes_from_the_other_cluster_not_a_duplicate():
    # 50 copies each of two equally uncertain items; the first is a little longer. Top-k by
    # gradient length takes two copies of it; BADGE takes one of each.
    X = np.vstack([np.tile([1.1, 0.0], (50, 1)), np.tile([0.0, 1.0], (50, 1))])
    proba = np.tile([0.5, 0.5], (100, 1))
    chosen = badge_select(proba, X, 2, np.random.default_rng(0))
    assert sorted(chosen // 50) == [0, 1]
    assert set(np.argsort(-gradient_norms(proba, X), kind="stable")[:2] // 50) == {0}


def test_a_confident_pool_still_fills_the_batch_with_distinct_rows():
    X = np.random.default_rng(2).normal(size=(30, 4))
    proba = np.tile([1.0, 0.0], (30, 1))
    chosen = badge_select(proba, X, 10, np.random.default_rng(0))
    assert len(set(chosen.tolist())) == 10


def test_sparse_features_give_the_dense_result():
    proba, X = _random_problem(3, n=120)
    X[np.abs(X) < 0.8] = 0.0
    dense = badge_select(proba, X, 15, np.random.default_rng(4))
    sparse = badge_select(proba, sp.csr_matrix(X), 15, np.random.default_rng(4))
    np.testing.assert_array_equal(dense, sparse)


def test_a_large_pool_is_seeded_among_its_longest_gradients_only():
    proba, X = _random_problem(5, n=300)
    norms = gradient_norms(proba, X)
    longest = set(np.argsort(-norms, kind="stable")[:40].tolist())
    scored: list[int] = []

    def predict_proba(rows: np.ndarray) -> np.ndarray:
        scored.append(len(rows))
        return proba[[int(np.flatnonzero((row == X).all(axis=1))[0]) for row in rows]]

    chosen = badge_among_longest(norms, X, predict_proba, 20, np.random.default_rng(1), 40)
    assert len(set(chosen.tolist())) == 20
    assert set(chosen.tolist()) <= longest
    assert scored == [40]
