"""Majority vote and Dawid-Skene on synthetic raters with known confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from labeling.aggregation import dawid_skene, majority_vote
from labeling.agreement import RatingTable, ratings_from_rows

K = 3
GOOD = np.eye(K) * 0.85 + 0.05  # right 90% of the time
NOISY = np.full((K, K), 1.0 / K)  # ignores the item
ADVERSARIAL = np.roll(np.eye(K), 1, axis=1) * 0.8 + 0.2 / K  # says class j+1 for class j


def _simulate(seed, confusions, *, n_items=600, coverage=0.7, priors=(0.5, 0.3, 0.2)):
    """Rows (item, rater, label) where each rater rates a random ~coverage share of items."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(K, size=n_items, p=priors)
    rows: list[tuple[int, object, int | None]] = []
    for item in range(n_items):
        rows.append((item, "nobody", None))  # keeps items that no rater picked in the table
        for rater, confusion in enumerate(confusions):
            if rng.random() < coverage:
                rows.append((item, rater, int(rng.choice(K, p=confusion[truth[item]]))))
    table = ratings_from_rows(rows, categories=list(range(K)))
    order = np.array(table.items)
    return table, truth[order]


@pytest.fixture(scope="module")
def mixed_crowd():
    confusions = [GOOD, GOOD, GOOD, NOISY, NOISY, NOISY, ADVERSARIAL]
    table, truth = _simulate(7, confusions)
    return table, truth, confusions


def test_dawid_skene_recovers_true_labels_better_than_majority(mixed_crowd):
    table, truth, _ = mixed_crowd
    result = dawid_skene(table)
    majority = majority_vote(table)
    ds_accuracy = float((result.labels == truth).mean())
    majority_accuracy = float((majority.labels == truth).mean())  # ties (-1) count as wrong
    assert result.converged
    assert ds_accuracy > 0.9
    assert ds_accuracy > majority_accuracy + 0.1


def test_dawid_skene_estimates_each_raters_confusion_matrix(mixed_crowd):
    table, _, confusions = mixed_crowd
    result = dawid_skene(table)
    assert result.confusion.shape == (table.n_raters, K, K)
    np.testing.assert_allclose(result.confusion.sum(axis=2), 1.0)
    raters = list(table.raters)
    for rater, truth in enumerate(confusions):
        estimate = result.confusion[raters.index(rater)]
        assert np.abs(estimate - truth).max() < 0.12, (rater, estimate.round(2))


def test_dawid_skene_estimates_class_priors_and_posteriors(mixed_crowd):
    table, truth, _ = mixed_crowd
    result = dawid_skene(table)
    np.testing.assert_allclose(result.class_priors, np.bincount(truth) / truth.size, atol=0.04)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)
    np.testing.assert_array_equal(result.confidence, result.posteriors.max(axis=1))
    # Confidence means something: the items it is sure about are right more often.
    sure = result.confidence > 0.95
    assert (result.labels[sure] == truth[sure]).mean() > (result.labels == truth).mean()


def test_dawid_skene_handles_raters_who_saw_few_items():
    table, truth = _simulate(3, [GOOD, GOOD, GOOD, NOISY], n_items=300, coverage=0.05)
    result = dawid_skene(table)
    assert np.isfinite(result.posteriors).all()
    # Items that nobody rated get the prior.
    unrated = result.n_annotations == 0
    assert unrated.sum() > 100
    np.testing.assert_allclose(
        result.posteriors[unrated], np.tile(result.class_priors, (int(unrated.sum()), 1))
    )
    assert "have no rating" in result.note
    rated = ~unrated
    assert (result.labels[rated] == truth[rated]).mean() > 0.7


def test_dawid_skene_is_deterministic(mixed_crowd):
    table, _, _ = mixed_crowd
    first, second = dawid_skene(table), dawid_skene(table)
    np.testing.assert_array_equal(first.posteriors, second.posteriors)
    assert first.n_iter == second.n_iter


def test_dawid_skene_stops_at_max_iter_and_says_it_did_not_converge(mixed_crowd):
    table, _, _ = mixed_crowd
    result = dawid_skene(table, max_iter=2, tol=0.0)
    assert (result.n_iter, result.converged) == (2, False)


def test_dawid_skene_with_a_single_rater_returns_that_raters_labels_and_says_why():
    rows = [(item, "only", label) for item, label in enumerate([0, 1, 2, 1, 0, 0])]
    table = ratings_from_rows(rows, categories=[0, 1, 2])
    result = dawid_skene(table)
    np.testing.assert_array_equal(result.labels, [0, 1, 2, 1, 0, 0])
    assert "fewer than two raters" in result.note


def test_dawid_skene_with_a_single_class_gives_it_to_every_item():
    rows = [(item, rater, "ok") for item in range(4) for rater in ("a", "b")]
    result = dawid_skene(ratings_from_rows(rows))
    np.testing.assert_array_equal(result.labels, [0, 0, 0, 0])
    np.testing.assert_allclose(result.confidence, 1.0)
    assert "single category" in result.note


def test_dawid_skene_keeps_a_class_nobody_chose():
    rows = [(item, rater, "ok") for item in range(3) for rater in ("a", "b")]
    result = dawid_skene(ratings_from_rows(rows, categories=["ok", "hate"]))
    assert result.posteriors.shape == (3, 2)
    np.testing.assert_array_equal(result.labels, [0, 0, 0])


def test_dawid_skene_on_no_items_returns_empty_arrays():
    empty = RatingTable(
        items=(),
        raters=(),
        categories=("ok", "hate"),
        item_index=np.zeros(0, dtype=np.int64),
        rater_index=np.zeros(0, dtype=np.int64),
        codes=np.zeros(0, dtype=np.int64),
    )
    result = dawid_skene(empty)
    assert result.posteriors.shape == (0, 2)
    assert result.labels.shape == (0,)


def test_dawid_skene_rejects_a_bad_initial_posterior(mixed_crowd):
    table, _, _ = mixed_crowd
    with pytest.raises(ValueError, match="init must have shape"):
        dawid_skene(table, init=np.ones((2, K)))


def test_majority_vote_flags_ties_instead_of_picking():
    rows = [
        ("a", "rita", "hate"),
        ("a", "oscar", "ok"),
        ("b", "rita", "ok"),
        ("b", "oscar", "ok"),
        ("b", "sam", "hate"),
        ("c", "rita", "hate"),
    ]
    result = majority_vote(ratings_from_rows(rows, categories=["ok", "hate"]))
    np.testing.assert_array_equal(result.labels, [-1, 0, 1])
    np.testing.assert_array_equal(result.tie, [True, False, False])
    np.testing.assert_allclose(result.confidence, [0.5, 2 / 3, 1.0])


def test_majority_vote_of_an_item_with_no_votes_has_no_label_and_no_tie():
    table = ratings_from_rows([("a", "rita", None), ("b", "rita", "ok")])
    result = majority_vote(table)
    np.testing.assert_array_equal(result.labels, [-1, 0])
    np.testing.assert_array_equal(result.tie, [False, False])
    np.testing.assert_allclose(result.confidence, [0.0, 1.0])
