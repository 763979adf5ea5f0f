"""Per-class decision offsets that maximise macro-F1, for ``TextClassifierHead.predict``.

A head predicts ``argmax(log_proba + offsets)``; the offsets move each class's threshold. Two
ways to choose them:

- ``bagged_offsets``: on the labelled set's out-of-fold predictions, averaged over bootstrap
  resamples so that a few rare-class labels do not swing them. Right when the labelled set looks
  like the items the model will serve (labels drawn at random, or all of a dataset).
- ``population_offsets``: on the labelled rows (out-of-fold, with their labels) together with the
  unlabelled pool (its calibrated probabilities standing in for labels), i.e. the macro-F1
  expected over everything the model will serve. Active learning makes the labelled set unlike
  the pool: it is full of borderline items and rich in the rare class, and offsets tuned on it
  alone suit it rather than the pool (on a set of items near the boundary they predict the
  rare class far too often: ``tests/activelearning/test_thresholds.py``). Measured on Davidson
  (MiniLM, 10 paired seeds, batch 25, 100 to 3,000 labels,
  ``benchmarks/results/al_davidson_*_head.json``): hate vs rest, margin sampling's mean macro-F1
  +0.013 (area 1.039x -> 1.059x random's, full-data macro-F1 reached at 650 labels instead of
  1,750); random's curve unchanged (+0.000); 3-class, both unchanged (margin +0.000, random
  +0.001).

No Django here: plain numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

OFFSET_GRID = np.linspace(-3.0, 3.0, 61)
POPULATION_SAMPLE = 5000
"""Pool rows ``population_offsets`` reads at most (a uniform sample, weighted back up to the
pool's size): enough to estimate class masses of a rare class, and cheap on a 100k-item pool."""


def one_hot(y: npt.NDArray[np.intp], n_classes: int) -> FloatArray:
    """``(n, k)`` indicator rows of the class indices ``y``."""
    targets: FloatArray = np.eye(n_classes)[y]
    return targets


def tune_offsets(log_proba: FloatArray, targets: FloatArray, rounds: int = 3) -> FloatArray:
    """Per-class offsets ``b`` (shape ``(k,)``) maximising macro-F1 of ``argmax(log_proba + b)``.

    ``targets`` ``(n, k)``: each row's mass per class, one-hot for a labelled row, probabilities
    for an unlabelled one (so true positives, predictions and support are expected counts), a row
    sum above 1 for a row that stands for several items. Coordinate ascent over a fixed grid;
    class 0's offset stays 0 (only differences matter). Ties keep the offset nearest 0 so that
    the tuning never moves without a gain.
    """
    n_classes = log_proba.shape[1]
    offsets = np.zeros(n_classes)
    support = targets.sum(axis=0)
    row_mass = targets.sum(axis=1)
    rows = np.arange(targets.shape[0])

    def score(candidate: FloatArray) -> float:
        # macro-F1 from (expected) counts: sklearn's f1_score validates its input on every
        # call, which dominates the cost of this search.
        predicted = np.argmax(log_proba + candidate, axis=1)
        true_positives = np.bincount(
            predicted, weights=targets[rows, predicted], minlength=n_classes
        )
        predicted_counts = np.bincount(predicted, weights=row_mass, minlength=n_classes)
        denominator = support + predicted_counts
        f1 = np.divide(
            2 * true_positives, denominator, out=np.zeros(n_classes), where=denominator > 0
        )
        return float(f1.mean())

    best = score(offsets)
    grid = sorted(OFFSET_GRID, key=abs)
    for _ in range(rounds):
        improved = False
        for klass in range(1, n_classes):
            for value in grid:
                candidate = offsets.copy()
                candidate[klass] = value
                candidate_score = score(candidate)
                if candidate_score > best + 1e-9:
                    best, offsets, improved = candidate_score, candidate, True
        if not improved:
            break
    return offsets


def bagged_offsets(
    log_proba: FloatArray, y: npt.NDArray[np.intp], bootstraps: int, rng: np.random.Generator
) -> FloatArray:
    """Mean of the offsets ``tune_offsets`` picks on ``bootstraps`` resamples of the labelled
    rows (``log_proba`` ``(n, k)``, class indices ``y`` ``(n,)``).

    Tuned once on a few hundred labels, the offsets chase the noise of a handful of rare-class
    rows, and the decisions of successive models swing with it; averaging over bootstrap
    resamples (bagging the thresholds) steadies them. A resample missing a class is skipped;
    with none left (or ``bootstraps < 1``) the offsets are tuned once on all rows.
    """
    n_classes = log_proba.shape[1]
    tuned: list[FloatArray] = []
    for _ in range(bootstraps):
        rows = rng.integers(0, len(y), size=len(y))
        if np.unique(y[rows]).size == n_classes:
            tuned.append(tune_offsets(log_proba[rows], one_hot(y[rows], n_classes)))
    if not tuned:
        return tune_offsets(log_proba, one_hot(y, n_classes))
    mean: FloatArray = np.mean(tuned, axis=0)
    return mean


def population_offsets(
    labelled_log_proba: FloatArray,
    y: npt.NDArray[np.intp],
    pool_log_proba: FloatArray,
    pool_proba: FloatArray,
    pool_weight: float = 1.0,
) -> FloatArray:
    """Offsets maximising the macro-F1 expected over labelled and unlabelled rows together.

    Args:
        labelled_log_proba: ``(n, k)`` out-of-fold scores of the labelled rows.
        y: ``(n,)`` their class indices.
        pool_log_proba: ``(m, k)`` the same scores for unlabelled rows.
        pool_proba: ``(m, k)`` calibrated probabilities of those rows: their expected labels.
        pool_weight: how many pool items each of the ``m`` rows stands for (a sample's rows
            stand for the whole pool).
    """
    n_classes = labelled_log_proba.shape[1]
    log_proba = np.vstack([labelled_log_proba, pool_log_proba])
    targets = np.vstack([one_hot(y, n_classes), np.asarray(pool_proba) * pool_weight])
    return tune_offsets(log_proba, targets)


def pool_sample(n_rows: int, rng: np.random.Generator) -> tuple[npt.NDArray[np.intp], float]:
    """Rows of an ``n_rows`` pool to read (all, or ``POPULATION_SAMPLE`` drawn uniformly) and
    how many pool items each stands for."""
    if n_rows <= POPULATION_SAMPLE:
        return np.arange(n_rows), 1.0
    rows = np.sort(rng.choice(n_rows, size=POPULATION_SAMPLE, replace=False))
    return rows, n_rows / POPULATION_SAMPLE
