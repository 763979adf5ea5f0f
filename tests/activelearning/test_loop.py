"""One active-learning round: fit, score, select; timings recorded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from activelearning.loop import (
    bootstrap_committee,
    fit_model,
    logistic_regression_factory,
    run_round,
)
from activelearning.strategies import StrategyError


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # Tiny matrices: BLAS threads only add contention on a shared box.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=4, n_classes=3, random_state=0
    )
    return X, y


def _round(data, strategy, model_factory, k):
    """One round on the first 60 rows as labelled and the other 240 as the pool."""
    X, y = data
    return run_round(
        strategy=strategy,
        model_factory=model_factory,
        X_labelled=X[:60],
        y_labelled=y[:60],
        X_pool=X[60:],
        k=k,
        rng=np.random.default_rng(0),
    )


def test_a_round_fits_on_the_labelled_set_and_selects_from_the_pool(data):
    result = _round(data, "qbc", logistic_regression_factory, 15)
    assert result.n_labelled == 60
    assert list(result.model.classes_) == [0, 1, 2]
    assert result.selected.shape == (15,) and len(set(result.selected.tolist())) == 15
    assert result.selected.max() < 240
    assert set(result.timings) == {"fit_s", "score_s", "select_s"}
    assert all(value >= 0 for value in result.timings.values())


def test_a_round_with_an_unknown_strategy_fails_before_fitting(data):
    fitted = []

    def factory():
        fitted.append(1)
        return logistic_regression_factory()

    with pytest.raises(StrategyError):
        _round(data, "nope", factory, 5)
    assert fitted == []


def test_every_committee_member_sees_every_labelled_class(data):
    X, y = data
    rows = np.r_[
        np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 1)[:30], np.flatnonzero(y == 2)[:2]
    ]
    members = bootstrap_committee(
        logistic_regression_factory, X[rows], y[rows], np.random.default_rng(0), size=8
    )
    assert len(members) == 8
    assert all(list(member.classes_) == [0, 1, 2] for member in members)


def test_the_round_hands_its_pool_to_a_model_that_takes_one_and_only_to_it(data):
    X, y = data
    seen: dict[str, object] = {}

    class PoolAware(LogisticRegression):
        def fit(self, X, y, X_unlabelled=None):
            seen["pool_rows"] = None if X_unlabelled is None else X_unlabelled.shape[0]
            return super().fit(X, y)

    _round(data, "margin", PoolAware, 5)
    assert seen["pool_rows"] == 240

    plain = fit_model(logistic_regression_factory, X[:60], y[:60], X[60:])
    assert list(plain.classes_) == [0, 1, 2]
