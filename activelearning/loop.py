"""One active-learning round, pure: fit on the labelled set, score the pool, select a batch.

The simulator (``activelearning.simulation``) runs it against dataset labels; the live Celery
tasks run the very same function against reviewers' labels. No Django here.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from activelearning.strategies import (
    Classifier,
    CommitteeFactory,
    FloatArray,
    IndexArray,
    get_strategy,
    select,
)

ModelFactory = Callable[[], Classifier]
"""Returns a fresh, unfitted classifier (scikit-learn contract)."""

COMMITTEE_SIZE = 5


def logistic_regression_factory() -> Classifier:
    """Fallback head: class-balanced logistic regression."""
    model: Classifier = LogisticRegression(class_weight="balanced", max_iter=1000)
    return model


@dataclass(frozen=True)
class ALRound:
    """What one round did. ``selected`` indexes rows of the pool passed to ``run_round``."""

    strategy: str
    n_labelled: int
    model: Classifier
    selected: IndexArray
    fit_seconds: float
    score_seconds: float
    select_seconds: float

    @property
    def timings(self) -> dict[str, float]:
        return {
            "fit_s": self.fit_seconds,
            "score_s": self.score_seconds,
            "select_s": self.select_seconds,
        }


def fit_model(
    model_factory: ModelFactory,
    X_labelled: FloatArray,
    y_labelled: npt.NDArray[Any],
    X_unlabelled: FloatArray | None = None,
) -> Classifier:
    """A fresh model from ``model_factory`` fitted on ``X_labelled`` ``(m, d)``, ``y`` ``(m,)``.

    ``X_unlabelled``, the pool, goes to models whose ``fit`` takes it (the production head
    chooses its decision thresholds over it); other models never see it.
    """
    model = model_factory()
    fit: Callable[..., Any] = model.fit  # the Classifier protocol's fit takes (X, y) only
    if X_unlabelled is not None and "X_unlabelled" in inspect.signature(fit).parameters:
        fit(X_labelled, y_labelled, X_unlabelled=X_unlabelled)
    else:
        model.fit(X_labelled, y_labelled)
    return model


def bootstrap_committee(
    model_factory: ModelFactory,
    X_labelled: FloatArray,
    y_labelled: npt.NDArray[Any],
    rng: np.random.Generator,
    size: int = COMMITTEE_SIZE,
) -> list[Classifier]:
    """``size`` models, each fitted on a class-stratified bootstrap sample of the labelled set.

    Resampling within each class keeps every member aware of every labelled class, so the
    committee's votes are comparable (a member that never saw the rare class cannot vote it).
    """
    labels = np.asarray(y_labelled)
    by_class = [np.flatnonzero(labels == value) for value in np.unique(labels)]
    members = []
    for _ in range(size):
        sample = np.concatenate([rng.choice(rows, size=len(rows)) for rows in by_class])
        members.append(fit_model(model_factory, X_labelled[sample], labels[sample]))
    return members


def run_round(
    *,
    strategy: str,
    model_factory: ModelFactory,
    X_labelled: FloatArray,
    y_labelled: npt.NDArray[Any],
    X_pool: FloatArray,
    k: int,
    rng: np.random.Generator,
    committee_size: int = COMMITTEE_SIZE,
) -> ALRound:
    """Fit on ``(X_labelled, y_labelled)``, then pick ``k`` rows of ``X_pool`` ``(n, d)``.

    Fit time covers the model only; a committee (qbc strategies) is fitted lazily inside
    scoring, and counted there, because only committee strategies pay for it.
    """
    get_strategy(strategy)  # fail before fitting anything
    started = time.perf_counter()
    model = fit_model(model_factory, X_labelled, y_labelled, X_pool)
    fitted = time.perf_counter()

    def committee() -> Sequence[Classifier]:
        return bootstrap_committee(model_factory, X_labelled, y_labelled, rng, committee_size)

    committee_factory: CommitteeFactory = committee
    timings: dict[str, float] = {}
    selected = select(
        strategy,
        model=model,
        X_pool=X_pool,
        k=k,
        rng=rng,
        committee_factory=committee_factory,
        X_labelled=X_labelled,
        timings=timings,
    )
    return ALRound(
        strategy=strategy,
        n_labelled=len(y_labelled),
        model=model,
        selected=selected,
        fit_seconds=fitted - started,
        score_seconds=timings["score_s"],
        select_seconds=timings["select_s"],
    )
