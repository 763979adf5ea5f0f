"""Decision offsets: tuned on labels, bagged, or over labelled and pool items together."""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy.special import expit

from activelearning.metrics import macro_f1
from activelearning.thresholds import (
    POPULATION_SAMPLE,
    bagged_offsets,
    one_hot,
    pool_sample,
    population_offsets,
    tune_offsets,
)


def _random_scores(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.log(rng.dirichlet(np.ones(k), size=n)), rng.integers(0, k, size=n)


def test_offsets_maximise_macro_f1_over_the_grid():
    log_proba, labels = _random_scores(1, 400, 2)
    offsets = tune_offsets(log_proba, one_hot(labels, 2))

    def score(offset: float) -> float:
        return macro_f1(labels, np.argmax(log_proba + np.array([0.0, offset]), axis=1))

    assert offsets[0] == 0.0
    assert score(offsets[1]) >= max(score(value) for value in np.linspace(-3, 3, 61)) - 1e-12
    assert score(offsets[1]) >= score(0.0)


def test_a_row_of_mass_two_counts_as_two_copies_of_it():
    log_proba, labels = _random_scores(2, 300, 3)
    doubled = one_hot(labels, 3)
    doubled[:50] *= 2
    copies = np.concatenate([np.arange(300), np.arange(50)])

    np.testing.assert_array_equal(
        tune_offsets(log_proba, doubled),
        tune_offsets(log_proba[copies], one_hot(labels[copies], 3)),
    )


def test_no_bootstraps_tunes_the_offsets_once_on_all_rows():
    log_proba, labels = _random_scores(5, 300, 3)

    bagged = bagged_offsets(log_proba, labels, 0, np.random.default_rng(0))

    np.testing.assert_array_equal(bagged, tune_offsets(log_proba, one_hot(labels, 3)))


def test_resamples_missing_a_class_are_skipped_then_all_rows_are_used():
    class FirstRowOnly:
        """A generator whose every resample is row 0 repeated: one class only."""

        def integers(self, low, high, size):
            return np.zeros(size, dtype=np.intp)

    log_proba, _ = _random_scores(6, 80, 2)
    labels = np.array([0, 1] * 40)

    bagged = bagged_offsets(log_proba, labels, 5, cast(np.random.Generator, FirstRowOnly()))

    np.testing.assert_array_equal(bagged, tune_offsets(log_proba, one_hot(labels, 2)))


def _gaussian_population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """One score per item: rare class (6 %) at mean 1.6, the rest at 0, unit variance."""
    labels = (rng.random(n) < 0.06).astype(np.intp)
    return rng.normal(size=n) + 1.6 * labels, labels


def _posterior(x: np.ndarray) -> np.ndarray:
    """The exact P(rare | x) of ``_gaussian_population``."""
    log_odds = np.log(0.06 / 0.94) + 1.6 * x - 1.6**2 / 2
    positive = expit(log_odds)
    return np.column_stack([1 - positive, positive])


def test_offsets_over_the_population_beat_offsets_tuned_on_a_boundary_heavy_labelled_set():
    # Margin sampling on class-balanced scores labels the items nearest their boundary (equal
    # likelihoods, x = 0.8 here): a labelled set unlike the pool. Tuned on it alone, the offsets
    # suit it; tuned with the pool (exact probabilities as its expected labels) they suit the
    # items the model will serve.
    rng = np.random.default_rng(0)
    x, labels = _gaussian_population(rng, 40_000)
    test_x, test_labels = _gaussian_population(rng, 40_000)
    near_boundary = np.argsort(np.abs(x - 0.8))[:600]
    pool = np.setdiff1d(np.arange(x.size), near_boundary)
    # Balanced scores: the log-likelihood ratio, as a class-balanced regression learns it.
    balanced = np.log(_posterior(x)) - np.log([0.94, 0.06])

    labelled_only = tune_offsets(balanced[near_boundary], one_hot(labels[near_boundary], 2))
    population = population_offsets(
        balanced[near_boundary], labels[near_boundary], balanced[pool], _posterior(x[pool])
    )

    test_scores = np.log(_posterior(test_x)) - np.log([0.94, 0.06])

    def test_f1(offsets: np.ndarray) -> float:
        return macro_f1(test_labels, np.argmax(test_scores + offsets, axis=1))

    assert test_f1(population) > test_f1(labelled_only) + 0.02


def test_an_empty_pool_leaves_the_labels_to_decide():
    log_proba, labels = _random_scores(7, 200, 3)

    offsets = population_offsets(log_proba, labels, np.empty((0, 3)), np.empty((0, 3)))

    np.testing.assert_array_equal(offsets, tune_offsets(log_proba, one_hot(labels, 3)))


def test_a_small_pool_is_read_whole_and_a_large_one_sampled_and_weighted_back_up():
    rows, weight = pool_sample(1200, np.random.default_rng(0))
    np.testing.assert_array_equal(rows, np.arange(1200))
    assert weight == 1.0

    rows, weight = pool_sample(4 * POPULATION_SAMPLE, np.random.default_rng(0))
    assert rows.size == POPULATION_SAMPLE == np.unique(rows).size
    assert rows.max() < 4 * POPULATION_SAMPLE
    assert weight == 4.0
