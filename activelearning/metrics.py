"""Evaluation measures of the ML core: pure functions over arrays, no Django.

``y_true`` and ``y_pred`` are 1-D arrays of shape ``(n,)`` holding class labels; learning-curve
``points`` are ``(labels used, score)`` pairs as produced by an active-learning simulation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import f1_score

LabelArray = npt.ArrayLike


def macro_f1(
    y_true: LabelArray, y_pred: LabelArray, *, labels: Sequence[Any] | None = None
) -> float:
    """Unweighted mean of per-class F1 over ``labels`` (default: classes in either array).

    Shapes: ``y_true`` ``(n,)``, ``y_pred`` ``(n,)``. A class never predicted nor present
    scores 0 (no warning).
    """
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def per_class_f1(
    y_true: LabelArray, y_pred: LabelArray, *, labels: Sequence[Hashable] | None = None
) -> dict[str, float]:
    """F1 of each class, keyed by ``str(label)``; shapes ``(n,)`` and ``(n,)``."""
    if labels is None:
        labels = sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist()))
    scores = f1_score(y_true, y_pred, labels=list(labels), average=None, zero_division=0)
    return {str(label): float(score) for label, score in zip(labels, scores, strict=True)}


def _sorted_points(points: Sequence[tuple[float, float]]) -> tuple[npt.NDArray[np.float64], ...]:
    if not points:
        raise ValueError("a learning curve needs at least one point")
    array = np.asarray(sorted(points), dtype=np.float64)
    return array[:, 0], array[:, 1]


def learning_curve_auc(points: Sequence[tuple[float, float]], lo: float, hi: float) -> float:
    """Area under a learning curve between ``lo`` and ``hi`` labels, divided by ``hi - lo``.

    ``points``: ``(labels, score)`` pairs, any order, shape ``(m, 2)``. The curve is linearly
    interpolated (and held constant beyond its first/last point), so the result is the mean
    score over the label budget ``[lo, hi]``, in the units of the score.
    """
    if hi <= lo:
        raise ValueError("learning_curve_auc needs hi > lo")
    labels, scores = _sorted_points(points)
    inside = (labels > lo) & (labels < hi)
    grid = np.concatenate([[lo], labels[inside], [hi]])
    values = np.interp(grid, labels, scores)
    area = float(np.sum((grid[1:] - grid[:-1]) * (values[1:] + values[:-1]) / 2.0))
    return area / (hi - lo)


def labels_to_reach(points: Sequence[tuple[float, float]], target: float) -> float | None:
    """Fewest labels at which the curve's score is at least ``target``; ``None`` if never.

    ``points``: ``(labels, score)`` pairs, shape ``(m, 2)``. Only measured points count (no
    interpolation), so the answer is always a label count that was actually evaluated.
    """
    labels, scores = _sorted_points(points)
    reached = np.flatnonzero(scores >= target)
    return float(labels[reached[0]]) if reached.size else None
