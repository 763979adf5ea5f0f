"""Finding likely label errors with confident learning (Northcutt, Jiang & Chuang, JAIR 2021).

Pure numpy + scikit-learn, no Django. Input: the given labels (n,) as class indices 0..k-1 and
out-of-fold predicted probabilities (n, k) (each item scored by a model that never saw it; see
:func:`out_of_fold_proba`). Output: which items look mislabeled and in what order to review them.

Steps (the paper's section 3): per-class thresholds t_j = mean of p_j over the items labelled j;
the confident joint C[given, true] counts items whose probability for ``true`` clears its
threshold (argmax among the classes that clear it); C is calibrated so that its rows sum to the
label counts; then, for every off-diagonal cell, that many items of the given class are pruned,
those with the largest margin p_true - p_given ("prune by noise rate", cleanlab's default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold, cross_val_predict

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FilterBy = Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning"]
RankBy = Literal["self_confidence", "normalized_margin"]

# As cleanlab: a probability this close below a threshold still counts as clearing it.
_THRESHOLD_SLACK = 1e-6


@dataclass(frozen=True)
class LabelIssues:
    """Confident-learning findings.

    ``is_issue`` (n,) flagged items; ``ranked`` (m,) indices of the flagged items, most likely
    error first; ``suggested`` (n,) the class the model is confident in (-1 where it is confident
    in none); ``self_confidence`` (n,) p(given label); ``thresholds`` (k,);
    ``confident_joint`` (k, k) raw counts C[given, true]; ``calibrated_joint`` (k, k) integer
    counts with rows summing to the label counts; ``estimated_noise_rate`` share of items the
    calibrated joint puts off the diagonal.
    """

    is_issue: BoolArray
    ranked: IntArray
    suggested: IntArray
    self_confidence: FloatArray
    thresholds: FloatArray
    confident_joint: IntArray
    calibrated_joint: IntArray
    estimated_noise_rate: float


def _validate(labels: npt.ArrayLike, proba: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    given = np.asarray(labels)
    probabilities = np.asarray(proba, dtype=np.float64)
    if probabilities.ndim != 2 or given.ndim != 1 or given.shape[0] != probabilities.shape[0]:
        raise ValueError("labels must be (n,) and proba (n, k) with the same n")
    if not np.issubdtype(given.dtype, np.integer):
        raise ValueError("labels must be integer class indices")
    k = probabilities.shape[1]
    if given.size and (given.min() < 0 or given.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}")
    return given.astype(np.int64), probabilities


def per_class_thresholds(labels: npt.ArrayLike, proba: npt.ArrayLike) -> FloatArray:
    """(k,) t_j = mean p_j over the items labelled j; +inf for a class nobody was given."""
    given, probabilities = _validate(labels, proba)
    k = probabilities.shape[1]
    counts = np.bincount(given, minlength=k).astype(np.float64)
    sums = np.zeros(k)
    np.add.at(sums, given, probabilities[np.arange(given.size), given])
    thresholds: FloatArray = np.divide(sums, counts, out=np.full(k, np.inf), where=counts > 0)
    return thresholds


def confident_joint(
    labels: npt.ArrayLike, proba: npt.ArrayLike, thresholds: FloatArray | None = None
) -> tuple[IntArray, IntArray]:
    """(k, k) counts C[given, true] and the (n,) confident class of each item (-1 if none).

    An item counts towards ``true`` when p_true >= t_true; with several such classes, the one
    with the highest probability. Like cleanlab, every diagonal cell is at least 1 so that the
    calibration never divides by zero.
    """
    given, probabilities = _validate(labels, proba)
    k = probabilities.shape[1]
    if thresholds is None:
        thresholds = per_class_thresholds(given, probabilities)
    confident = probabilities >= thresholds - _THRESHOLD_SLACK
    masked = np.where(confident, probabilities, -np.inf)
    suggested = np.where(confident.any(axis=1), masked.argmax(axis=1), -1).astype(np.int64)
    counted = suggested >= 0
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (given[counted], suggested[counted]), 1)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
    return joint, suggested


def calibrate_joint(joint: IntArray, labels: npt.ArrayLike, n_classes: int) -> IntArray:
    """Scale each row of C to the number of items given that label; round keeping row totals."""
    label_counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)
    row_sums = joint.sum(axis=1, keepdims=True).astype(np.float64)
    scaled = np.divide(joint, row_sums, out=np.zeros(joint.shape), where=row_sums > 0)
    scaled *= label_counts[:, None]
    return np.vstack([_round_keeping_sum(row) for row in scaled]).astype(np.int64)


def _round_keeping_sum(row: FloatArray) -> IntArray:
    """Largest-remainder rounding: integers that add up to round(sum(row))."""
    floors = np.floor(row)
    missing = round(float(row.sum())) - int(floors.sum())
    # Largest remainder first; equal remainders go to the later class, as cleanlab does.
    order = np.argsort(row - floors, kind="stable")[::-1]
    floors[order[:missing]] += 1
    return floors.astype(np.int64)


def find_label_issues(
    labels: npt.ArrayLike,
    proba: npt.ArrayLike,
    *,
    filter_by: FilterBy = "prune_by_noise_rate",
    rank_by: RankBy = "self_confidence",
) -> LabelIssues:
    """Flag and rank likely label errors from out-of-fold probabilities.

    ``filter_by``:
    - ``"prune_by_noise_rate"`` (default): per off-diagonal cell (given i, true j) of the
      calibrated joint, flag that many items labelled i with the largest p_j - p_i;
    - ``"prune_by_class"``: per class i, flag the (row total - diagonal) items labelled i with
      the lowest p_i;
    - ``"both"``: flagged by both;
    - ``"confident_learning"``: items in off-diagonal cells of the raw confident joint.
    Any item whose argmax already is its given label is never flagged (a guard cleanlab has too).
    ``rank_by``: ``"self_confidence"`` (p_given, lowest first) or ``"normalized_margin"``
    (p_given - max other p, lowest first).
    """
    given, probabilities = _validate(labels, proba)
    n, k = probabilities.shape
    thresholds = per_class_thresholds(given, probabilities)
    raw_joint, suggested = confident_joint(given, probabilities, thresholds)
    calibrated = calibrate_joint(raw_joint, given, k)
    rows = np.arange(n)
    self_confidence = probabilities[rows, given]

    if filter_by == "confident_learning":
        flagged = (suggested >= 0) & (suggested != given)
    else:
        by_rate = _prune_by_noise_rate(given, probabilities, calibrated)
        by_class = _prune_by_class(given, self_confidence, calibrated)
        if filter_by == "prune_by_noise_rate":
            flagged = by_rate
        elif filter_by == "prune_by_class":
            flagged = by_class
        elif filter_by == "both":
            flagged = by_rate & by_class
        else:
            raise ValueError(f"unknown filter_by {filter_by!r}")

    # Ties go to the given label: an item the model already agrees with is no issue.
    nudged = probabilities.copy()
    nudged[rows, given] += 1e-12
    flagged = flagged & (nudged.argmax(axis=1) != given)

    scores = label_quality(given, probabilities, rank_by=rank_by)
    candidates = np.flatnonzero(flagged)
    ranked = candidates[np.argsort(scores[candidates], kind="stable")].astype(np.int64)
    off_diagonal = calibrated.sum() - np.trace(calibrated)
    return LabelIssues(
        is_issue=flagged,
        ranked=ranked,
        suggested=suggested,
        self_confidence=self_confidence,
        thresholds=thresholds,
        confident_joint=raw_joint,
        calibrated_joint=calibrated,
        estimated_noise_rate=float(off_diagonal / n) if n else 0.0,
    )


def label_quality(
    labels: npt.ArrayLike, proba: npt.ArrayLike, *, rank_by: RankBy = "self_confidence"
) -> FloatArray:
    """(n,) score per item, lower = more likely mislabeled."""
    given, probabilities = _validate(labels, proba)
    rows = np.arange(given.size)
    own = probabilities[rows, given]
    if rank_by == "self_confidence":
        return own
    if rank_by == "normalized_margin":
        others = probabilities.copy()
        others[rows, given] = -np.inf
        margin: FloatArray = own - others.max(axis=1, initial=-np.inf)
        return margin
    raise ValueError(f"unknown rank_by {rank_by!r}")


def _prune_by_noise_rate(
    given: IntArray, probabilities: FloatArray, calibrated: IntArray
) -> BoolArray:
    flagged = np.zeros(given.size, dtype=bool)
    k = probabilities.shape[1]
    for label in range(k):
        members = np.flatnonzero(given == label)
        if members.size <= 1:
            continue
        for true in range(k):
            count = int(calibrated[label, true])
            if true == label or count <= 0:
                continue
            margin = probabilities[members, true] - probabilities[members, label]
            flagged[members[np.argsort(-margin, kind="stable")[:count]]] = True
    return flagged


def _prune_by_class(
    given: IntArray, self_confidence: FloatArray, calibrated: IntArray
) -> BoolArray:
    flagged = np.zeros(given.size, dtype=bool)
    for label in range(calibrated.shape[0]):
        members = np.flatnonzero(given == label)
        count = int(calibrated[label].sum() - calibrated[label, label])
        if members.size <= 1 or count <= 0:
            continue
        flagged[members[np.argsort(self_confidence[members], kind="stable")[:count]]] = True
    return flagged


def out_of_fold_proba(
    X: Any,
    y: npt.ArrayLike,
    model_factory: Callable[[], BaseEstimator],
    *,
    n_splits: int = 5,
    rng_seed: int = 0,
) -> FloatArray:
    """(n, k) predicted probabilities where each row comes from a model that did not train on it.

    Stratified K-fold with shuffling seeded by ``rng_seed``; ``model_factory()`` builds an
    unfitted classifier with ``predict_proba`` (scikit-learn clones it per fold). Columns follow
    the sorted class values of ``y``.
    """
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=rng_seed)
    proba = cross_val_predict(model_factory(), X, np.asarray(y), cv=folds, method="predict_proba")
    return np.asarray(proba, dtype=np.float64)
