"""Confident learning: thresholds and joint by hand, agreement with cleanlab, recovery of flips."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint
from cleanlab.filter import find_label_issues as cleanlab_find_label_issues
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from activelearning.label_errors import (
    confident_joint,
    find_label_issues,
    label_quality,
    out_of_fold_proba,
    per_class_thresholds,
)


def _noisy_problem(seed, *, n=1000, k=3, flip_share=0.1):
    """Probabilities from a decent model of the truth, and labels with a known share flipped."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, n, p=[0.6, 0.3, 0.1][:k] if k == 3 else None)
    logits = rng.normal(0.0, 1.0, (n, k))
    logits[np.arange(n), truth] += 2.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = truth.copy()
    flipped = rng.random(n) < flip_share
    labels[flipped] = (labels[flipped] + rng.integers(1, k, flipped.sum())) % k
    return labels, proba, flipped


def test_thresholds_are_the_mean_self_confidence_per_given_class():
    labels = np.array([0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    np.testing.assert_allclose(per_class_thresholds(labels, proba), [0.7, (0.8 + 0.6 + 0.3) / 3])


def test_confident_joint_counts_by_the_highest_class_above_its_threshold():
    labels = np.array([0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    # t = (0.7, 0.567): item 1 clears neither; item 4 (labelled 1) is confidently 0.
    joint, suggested = confident_joint(labels, proba)
    np.testing.assert_array_equal(suggested, [0, -1, 1, 1, 0])
    np.testing.assert_array_equal(joint, [[1, 0], [1, 2]])


def test_a_class_nobody_was_given_never_counts_as_confident():
    labels = np.array([0, 0, 1])
    proba = np.array([[0.5, 0.2, 0.3], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]])
    assert np.isinf(per_class_thresholds(labels, proba)[2])
    _, suggested = confident_joint(labels, proba)
    assert 2 not in suggested


@pytest.mark.parametrize("seed", range(4))
def test_it_agrees_with_cleanlab(seed):
    labels, proba, _ = _noisy_problem(seed)
    ours = find_label_issues(labels, proba)
    raw = compute_confident_joint(labels, proba, calibrate=False)
    np.testing.assert_array_equal(ours.confident_joint, raw)
    np.testing.assert_array_equal(ours.calibrated_joint, compute_confident_joint(labels, proba))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = cleanlab_find_label_issues(
            labels, proba, return_indices_ranked_by="self_confidence"
        )
    np.testing.assert_array_equal(ours.ranked, reference)


@pytest.mark.parametrize("filter_by", ["prune_by_class", "both", "confident_learning"])
def test_other_filters_agree_with_cleanlab(filter_by):
    labels, proba, _ = _noisy_problem(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = cleanlab_find_label_issues(labels, proba, filter_by=filter_by)
    np.testing.assert_array_equal(
        find_label_issues(labels, proba, filter_by=filter_by).is_issue, reference
    )


def test_it_finds_most_flipped_labels_and_few_clean_ones():
    labels, proba, flipped = _noisy_problem(5)
    issues = find_label_issues(labels, proba)
    precision = (issues.is_issue & flipped).sum() / issues.is_issue.sum()
    recall = (issues.is_issue & flipped).sum() / flipped.sum()
    assert precision > 0.7
    assert recall > 0.7
    assert issues.estimated_noise_rate == pytest.approx(flipped.mean(), abs=0.05)
    # The top of the ranking is purer than the whole flagged set.
    top = issues.ranked[:30]
    assert flipped[top].mean() >= precision


def test_ranking_puts_the_lowest_score_first():
    labels, proba, _ = _noisy_problem(2)
    issues = find_label_issues(labels, proba, rank_by="normalized_margin")
    scores = label_quality(labels, proba, rank_by="normalized_margin")
    assert np.all(np.diff(scores[issues.ranked]) >= 0)
    assert set(issues.ranked) == set(np.flatnonzero(issues.is_issue))


def test_an_item_the_model_agrees_with_is_never_flagged():
    labels, proba, _ = _noisy_problem(3)
    issues = find_label_issues(labels, proba, filter_by="prune_by_class")
    assert not (issues.is_issue & (proba.argmax(axis=1) == labels)).any()


def test_clean_labels_give_few_issues():
    labels, proba, _ = _noisy_problem(4, flip_share=0.0)
    issues = find_label_issues(labels, proba)
    assert issues.is_issue.mean() < 0.03


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="same n"):
        find_label_issues(np.array([0, 1]), np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        find_label_issues(np.array([0, 2]), np.ones((2, 2)) / 2)


def test_out_of_fold_proba_is_seeded_and_shaped():
    X, y = make_classification(n_samples=200, n_features=8, n_informative=5, random_state=0)

    def factory():
        return LogisticRegression(max_iter=200)

    first = out_of_fold_proba(X, y, factory, n_splits=4, rng_seed=1)
    second = out_of_fold_proba(X, y, factory, n_splits=4, rng_seed=1)
    assert first.shape == (200, 2)
    np.testing.assert_allclose(first.sum(axis=1), 1.0)
    np.testing.assert_array_equal(first, second)
    # Out of fold: worse than the in-sample fit, still far better than chance.
    in_sample = factory().fit(X, y).predict_proba(X)
    assert (first.argmax(axis=1) == y).mean() > 0.75
    assert np.abs(first - in_sample).max() > 0
