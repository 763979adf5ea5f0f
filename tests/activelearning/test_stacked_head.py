"""TextClassifierHead(blocks=…): one regression per feature block, stacked by a small one."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from activelearning.metrics import macro_f1
from activelearning.training import TextClassifierHead


def two_block_problem(seed: int, n: int, noise_columns: int = 50):
    """Block 0 (20 columns) carries the classes; block 1 is noise of ``noise_columns``."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
    directions = np.random.default_rng(99).normal(size=(3, 20))
    signal = rng.normal(size=(n, 20)) + 1.2 * directions[labels]
    noise = rng.normal(size=(n, noise_columns))
    return np.hstack([signal, noise]).astype(np.float32), labels


def test_the_stacker_trusts_the_informative_block_over_the_noise():
    features, labels = two_block_problem(0, 600)
    head = TextClassifierHead(blocks=(20, 50)).fit(features, labels)
    informative = np.abs(head.stack_coef_[:, :3]).sum()
    noise = np.abs(head.stack_coef_[:, 3:]).sum()
    assert head.stack_coef_.shape == (3, 6)
    assert informative > 3 * noise


def test_each_block_regression_reads_only_its_own_columns():
    features, labels = two_block_problem(1, 400)
    head = TextClassifierHead(blocks=(20, 50)).fit(features, labels)
    assert head.coef_.shape == (6, 70)
    assert not head.coef_[:3, 20:].any()
    assert not head.coef_[3:, :20].any()
    assert head.coef_[:3, :20].any()
    assert head.coef_[3:, 20:].any()


def test_stacking_beats_one_regression_when_a_wide_block_is_noise():
    # One regression spreads its weight over 2,000 noise columns; the stacked head learns
    # from held-out predictions that the wide block predicts nothing.
    scores: dict[str, list[float]] = {"stacked": [], "one": []}
    for seed in range(3):
        train_x, train_y = two_block_problem(seed, 400, noise_columns=2000)
        test_x, test_y = two_block_problem(100 + seed, 3000, noise_columns=2000)
        for name, blocks in (("stacked", (20, 2000)), ("one", None)):
            head = TextClassifierHead(blocks=blocks, random_state=seed).fit(train_x, train_y)
            scores[name].append(macro_f1(test_y, head.predict(test_x)))
    assert np.mean(scores["stacked"]) > np.mean(scores["one"]) + 0.02


def test_binary_sparse_stacking_gives_distributions_and_labels():
    features, labels = two_block_problem(2, 500)
    binary = np.where(labels == 2, "hate", "other")
    head = TextClassifierHead(blocks=(20, 50)).fit(sp.csr_matrix(features), binary)
    proba = head.predict_proba(features[:50])
    assert head.coef_.shape == (2, 70)  # one row per block: binary regressions have one
    assert head.stack_coef_.shape == (1, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(head.balanced_proba(features[:50]).sum(axis=1), 1.0)
    assert set(head.predict(features)) == {"hate", "other"}


@pytest.mark.parametrize("blocks", [(20, 49), (20, 0, 50), (70, 1)])
def test_blocks_must_be_positive_and_add_up_to_the_width(blocks):
    features, labels = two_block_problem(3, 200)
    with pytest.raises(ValueError, match="blocks"):
        TextClassifierHead(blocks=blocks).fit(features, labels)


def test_a_class_too_small_for_folds_falls_back_to_one_regression():
    features, labels = two_block_problem(4, 200)
    labels[:] = 0
    labels[:100] = 1
    labels[0] = 2  # one row of class 2: no folds, so nothing to stack on
    head = TextClassifierHead(blocks=(20, 50)).fit(features, labels)
    assert head.stack_coef_.size == 0
    assert head.coef_.shape == (3, 70)
    assert set(head.predict(features)) <= {0, 1, 2}


def test_one_block_is_the_unstacked_head():
    features, labels = two_block_problem(5, 300)
    stacked = TextClassifierHead(blocks=(70,)).fit(features, labels)
    plain = TextClassifierHead().fit(features, labels)
    assert stacked.stack_coef_.size == 0
    np.testing.assert_allclose(stacked.predict_proba(features), plain.predict_proba(features))
