"""Query strategies: shape, determinism, and that each measure prefers what it should."""

from __future__ import annotations

import numpy as np
import pytest
from modAL.batch import ranked_batch
from modAL.uncertainty import classifier_uncertainty
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from activelearning.loop import bootstrap_committee, logistic_regression_factory
from activelearning.strategies import (
    STRATEGIES,
    QueryContext,
    StrategyError,
    class_balanced_select,
    cluster_select,
    margin_scores,
    query_view,
    ranked_batch_select,
    scores,
    select,
    top_k,
)
from activelearning.training import TextClassifierHead


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    # Tiny matrices: BLAS threads only add contention on a shared box.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=400, centers=[[-3, 0], [3, 0]], cluster_std=1.5, random_state=0)
    labelled = np.r_[np.flatnonzero(y == 0)[:10], np.flatnonzero(y == 1)[:10]]
    pool = np.setdiff1d(np.arange(len(y)), labelled)
    model = LogisticRegression().fit(X[labelled], y[labelled])
    return X, y, labelled, pool, model


def committee_for(X, y, labelled, seed=0):
    rng = np.random.default_rng(seed)
    return lambda: bootstrap_committee(
        logistic_regression_factory, X[labelled], y[labelled], rng, size=5
    )


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_each_strategy_returns_k_distinct_pool_indices_deterministically(blobs, name):
    X, y, labelled, pool, model = blobs

    def run(seed):
        return select(
            name,
            model=model,
            X_pool=X[pool],
            k=12,
            rng=np.random.default_rng(seed),
            committee_factory=committee_for(X, y, labelled, seed),
            X_labelled=X[labelled],
        )

    picked = run(7)
    assert picked.shape == (12,)
    assert len(set(picked.tolist())) == 12
    assert picked.min() >= 0 and picked.max() < len(pool)
    np.testing.assert_array_equal(picked, run(7))


@pytest.mark.parametrize("name", ["least_confidence", "margin", "entropy"])
def test_uncertainty_measures_prefer_points_near_the_boundary(blobs, name):
    X, _, _, pool, model = blobs
    picked = select(name, model=model, X_pool=X[pool], k=20, rng=np.random.default_rng(0))
    distance_to_boundary = np.abs(model.decision_function(X[pool]))
    assert distance_to_boundary[picked].max() < np.quantile(distance_to_boundary, 0.2)


def test_random_is_not_drawn_to_the_boundary(blobs):
    X, _, _, pool, model = blobs
    picked = select("random", model=model, X_pool=X[pool], k=40, rng=np.random.default_rng(0))
    distance_to_boundary = np.abs(model.decision_function(X[pool]))
    assert np.median(distance_to_boundary[picked]) > np.quantile(distance_to_boundary, 0.2)


def test_qbc_scores_disagreement_where_committee_members_split():
    X_pool = np.array([[-5.0, 0.0], [0.0, 0.0], [5.0, 0.0]])

    class Fixed:
        def __init__(self, classes_out):
            self.classes_ = np.array([0, 1])
            self.out = np.asarray(classes_out)

        def fit(self, X, y):
            return self

        def predict(self, X):
            return self.out

        def predict_proba(self, X):
            return np.eye(2)[self.out]

    committee = [Fixed([0, 0, 1]), Fixed([0, 1, 1]), Fixed([0, 0, 1]), Fixed([0, 1, 1])]
    model = LogisticRegression().fit([[-1.0, 0], [1.0, 0]], [0, 1])
    result = scores("qbc", model, X_pool, committee_factory=lambda: committee)
    assert result[0] == 0.0 and result[2] == 0.0
    assert result[1] == pytest.approx(np.log(2))


def test_qbc_without_a_committee_is_a_clear_error(blobs):
    X, _, _, pool, model = blobs
    with pytest.raises(StrategyError, match="committee_factory"):
        select("qbc", model=model, X_pool=X[pool], k=3, rng=np.random.default_rng(0))


def test_diversity_covers_every_cluster():
    centres = np.array([[10.0 * i, 0.0] for i in range(5)])
    X, cluster = make_blobs(n_samples=500, centers=centres, cluster_std=0.3, random_state=1)
    # The plain top-k would take all five from cluster 0, where the scores are highest.
    uncertainty = np.where(cluster == 0, 1.0, 0.1) + np.random.default_rng(0).random(500) * 0.01
    assert len(set(cluster[top_k(uncertainty, 5)])) == 1
    picked = cluster_select(uncertainty, X, 5, np.random.default_rng(0))
    assert sorted(set(cluster[picked].tolist())) == [0, 1, 2, 3, 4]


def test_class_balanced_selection_queries_the_rare_predicted_class():
    predicted = np.array([0] * 95 + [1] * 5)
    uncertainty = np.r_[np.linspace(1.0, 0.5, 95), np.full(5, 0.1)]
    picked = class_balanced_select(uncertainty, predicted, 10, np.random.default_rng(0))
    assert (predicted[picked] == 1).sum() == 5
    assert len(set(picked.tolist())) == 10


def test_ranked_batch_matches_modal(blobs):
    X, _, labelled, pool, model = blobs
    uncertainty = classifier_uncertainty(model, X[pool])

    class Learner:  # what modAL's ranked_batch reads from a learner
        on_transformed = False
        X_training = X[labelled]

    expected, _ = ranked_batch(Learner(), X[pool], uncertainty, 10, "euclidean", None)
    np.testing.assert_array_equal(
        ranked_batch_select(uncertainty, X[pool], X[labelled], 10), expected
    )


def test_top_k_orders_best_first_and_breaks_ties_with_the_generator():
    np.testing.assert_array_equal(top_k(np.array([0.1, 0.9, 0.5]), 2), [1, 2])
    flat = np.zeros(100)
    draws = {tuple(top_k(flat, 3, np.random.default_rng(seed))) for seed in range(5)}
    assert len(draws) > 1


def test_select_rejects_unknown_names_and_oversized_batches(blobs):
    X, _, _, pool, model = blobs
    with pytest.raises(StrategyError, match="unknown query strategy 'nope'"):
        select("nope", model=model, X_pool=X[pool], k=3, rng=np.random.default_rng(0))
    with pytest.raises(StrategyError, match="larger than the pool"):
        select("margin", model=model, X_pool=X[pool[:5]], k=6, rng=np.random.default_rng(0))
    with pytest.raises(StrategyError, match="at least 1"):
        select("margin", model=model, X_pool=X[pool], k=0, rng=np.random.default_rng(0))


def test_scores_rank_a_whole_queue(blobs):
    X, _, _, pool, model = blobs
    priority = scores("margin", model, X[pool])
    assert priority.shape == (len(pool),)
    np.testing.assert_allclose(priority, margin_scores(QueryContext(model=model, X_pool=X[pool])))
    with pytest.raises(StrategyError, match="rng"):
        scores("random", model, X[pool])


def test_query_measures_score_a_heads_balanced_probabilities():
    # 1 positive in 20: calibration pulls the positive class's probability down everywhere, so
    # calibrated margins would call the rare class's border "certain"; queries must not.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] > 1.65).astype(int)
    head = TextClassifierHead().fit(X, y)
    view = query_view(head)
    np.testing.assert_allclose(view.predict_proba(X), head.balanced_proba(X))
    np.testing.assert_array_equal(view.predict(X), head.predict(X))
    assert not np.allclose(head.balanced_proba(X), head.predict_proba(X))
    expected = 1.0 - np.abs(np.diff(head.balanced_proba(X), axis=1)).ravel()
    np.testing.assert_allclose(scores("margin", model=head, X_pool=X), expected, atol=1e-12)
    plain = LogisticRegression().fit(X, y)
    assert query_view(plain) is plain


def test_decision_margin_is_the_margin_of_the_decision_the_head_makes(blobs):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] > 1.65).astype(int)
    head = TextClassifierHead().fit(X, y)
    head.class_offsets_ = np.array([0.0, -1.0])  # a decision away from the balanced boundary
    shifted = head.balanced_log_proba(X) + head.class_offsets_
    proba = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    expected = 1.0 - np.abs(np.diff(proba, axis=1)).ravel()

    np.testing.assert_allclose(
        scores("decision_margin", model=head, X_pool=X), expected, atol=1e-12
    )
    # The most uncertain item is the one nearest the boundary predict() uses.
    top = int(np.argmax(scores("decision_margin", model=head, X_pool=X)))
    assert abs(shifted[top, 1] - shifted[top, 0]) == np.min(np.abs(np.diff(shifted, axis=1)))
    assert not np.allclose(scores("margin", model=head, X_pool=X), expected)

    head.class_offsets_ = np.zeros(2)
    np.testing.assert_allclose(
        scores("decision_margin", model=head, X_pool=X), scores("margin", model=head, X_pool=X)
    )
    # A head saved by artifact format 1 decides on calibrated scores: so does its margin.
    head.decision_space_ = "calibrated"
    calibrated = 1.0 - np.abs(np.diff(head.predict_proba(X), axis=1)).ravel()
    np.testing.assert_allclose(
        scores("decision_margin", model=head, X_pool=X), calibrated, atol=1e-12
    )
    # A model without tuned offsets: plain margin.
    X_blobs, _, _, pool, model = blobs
    np.testing.assert_allclose(
        scores("decision_margin", model=model, X_pool=X_blobs[pool]),
        scores("margin", model=model, X_pool=X_blobs[pool]),
    )


def test_density_margin_passes_over_uncertain_outliers():
    rng = np.random.default_rng(0)
    # Unit vectors, like sentence embeddings: the pool shares one main direction (dimensions
    # 1-7) and the class is decided by dimension 0. Six outliers each point their own way
    # (dimensions 8-13) and lie exactly on the decision boundary: plain margin wants them most.
    band = np.zeros((400, 14))
    band[:, 0] = rng.normal(scale=0.3, size=400)
    band[:, 1:8] = 1.0 + rng.normal(scale=0.3, size=(400, 7))
    band /= np.linalg.norm(band, axis=1, keepdims=True)
    model = LogisticRegression().fit(band, (band[:, 0] > 0).astype(int))
    outliers = np.zeros((6, 14))
    outliers[np.arange(6), 8 + np.arange(6)] = 1.0
    outliers[:, 0] = -model.intercept_[0] / model.coef_[0, 0]
    X = np.vstack([band, outliers])
    by_margin = select("margin", model=model, X_pool=X, k=6, rng=np.random.default_rng(0))
    by_density = select("density_margin", model=model, X_pool=X, k=6, rng=np.random.default_rng(0))
    assert set(by_margin.tolist()) & set(range(400, 406))
    assert not set(by_density.tolist()) & set(range(400, 406))
