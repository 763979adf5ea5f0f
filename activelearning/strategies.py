"""Query strategies: which unlabelled items a reviewer should see next.

Each strategy is a MEASURE (one informativeness score per pool item, higher = more worth a
label) kept apart from a SELECTION (which ``k`` items to take given those scores), the way
modAL's ``uncertainty.py`` is written. The measures call modAL on a fitted scikit-learn
classifier; the batch selections that modAL implements too slowly are re-implemented here
with the same result (see ``ranked_batch_select``).

Why not modAL's learners: modAL 0.4.2's ``ActiveLearner.teach`` passes ``force_all_finite`` to
``sklearn.utils.check_X_y``, a keyword scikit-learn 1.8 removed (``TypeError`` on 1.9), and it
keeps the whole training set in memory. We train with our own code and only hand modAL the
fitted estimators.

The one entry point both the simulator and the live queue re-ranker call is ``select``; a whole
queue is ranked with ``scores``. No Django here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from modAL.disagreement import vote_entropy
from modAL.models import ActiveLearner, Committee
from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty
from scipy.special import softmax
from sklearn.cluster import MiniBatchKMeans
from sklearn.random_projection import SparseRandomProjection

from activelearning.badge import badge_among_longest, gradient_norms
from activelearning.density import density_weighted, pool_density

FloatArray = npt.NDArray[np.floating[Any]]
IndexArray = npt.NDArray[np.intp]


class Classifier(Protocol):
    """A fitted probabilistic classifier (the scikit-learn contract)."""

    classes_: npt.NDArray[Any]

    def fit(self, X: Any, y: Any) -> Any: ...

    def predict(self, X: Any) -> npt.NDArray[Any]: ...

    def predict_proba(self, X: Any) -> FloatArray: ...


CommitteeFactory = Callable[[], Sequence[Classifier]]
"""Returns a committee of classifiers fitted on (bootstrap samples of) the labelled set."""


class StrategyError(ValueError):
    """A strategy was asked for something it cannot do (unknown name, k too large, ...)."""


@dataclass(frozen=True)
class QueryContext:
    """Everything a strategy may look at. ``X_pool``: ``(n, d)``; ``X_labelled``: ``(m, d)``."""

    model: Classifier
    X_pool: FloatArray
    rng: np.random.Generator | None = None
    X_labelled: FloatArray | None = None
    committee_factory: CommitteeFactory | None = None

    def generator(self) -> np.random.Generator:
        if self.rng is None:
            raise StrategyError("this strategy is random: pass rng=numpy.random.default_rng(seed)")
        return self.rng


Measure = Callable[[QueryContext], FloatArray]
Selection = Callable[[FloatArray, QueryContext, int], IndexArray]


@dataclass(frozen=True)
class Strategy:
    """A named pairing of a measure (per-item score) and a selection (the batch)."""

    name: str
    measure: Measure
    selection: Selection
    description: str


class BalancedView:
    """A fitted head seen through its class-balanced probabilities (``balanced_proba``).

    Query measures score the probabilities a model decides with, not the calibrated ones it
    shows reviewers: calibration learns the labelled set's class prior, which active learning
    skews on purpose (see ``activelearning.training``).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.classes_ = model.classes_

    def fit(self, X: Any, y: Any) -> Any:
        raise TypeError("BalancedView wraps a fitted model; fit the model itself")

    def predict(self, X: Any) -> npt.NDArray[Any]:
        predicted: npt.NDArray[Any] = self.model.predict(X)
        return predicted

    def predict_proba(self, X: Any) -> FloatArray:
        return np.asarray(self.model.balanced_proba(X))


def query_view(model: Classifier) -> Classifier:
    """``model`` as query measures should see it: its balanced view where it has one."""
    return BalancedView(model) if hasattr(model, "balanced_proba") else model


class DecisionView(BalancedView):
    """A fitted head seen through the probabilities it decides with: its balanced (or, where
    ``decision_space_`` says so, calibrated) log-probabilities shifted by its class offsets;
    ``predict`` is their argmax. With offsets chosen over the pool (``thresholds``), a margin on
    these sits at the boundary the model's decisions on the pool follow."""

    def predict_proba(self, X: Any) -> FloatArray:
        calibrated = getattr(self.model, "decision_space_", "balanced") == "calibrated"
        log_proba = (
            self.model.predict_log_proba(X) if calibrated else self.model.balanced_log_proba(X)
        )
        proba: FloatArray = softmax(np.asarray(log_proba) + self.model.class_offsets_, axis=1)
        return proba


def _decision_view(model: Classifier) -> Classifier:
    inner = model.model if isinstance(model, BalancedView) else model
    has_offsets = hasattr(inner, "class_offsets_") and hasattr(inner, "balanced_log_proba")
    return DecisionView(inner) if has_offsets else model


# --- measures ---------------------------------------------------------------------------------


def _single_class(model: Classifier) -> bool:
    return len(getattr(model, "classes_", ())) < 2


def least_confidence_scores(context: QueryContext) -> FloatArray:
    """``1 - max_c p(c|x)`` per pool item, shape ``(n,)`` (modAL ``classifier_uncertainty``)."""
    return np.asarray(classifier_uncertainty(context.model, context.X_pool), dtype=np.float64)


def margin_scores(context: QueryContext) -> FloatArray:
    """``1 - (p_top1 - p_top2)`` per pool item, shape ``(n,)`` (modAL ``classifier_margin``).

    modAL returns the margin itself (small = uncertain); it is flipped so that higher is better
    for every measure.
    """
    if _single_class(context.model):
        return np.zeros(context.X_pool.shape[0])
    return 1.0 - np.asarray(classifier_margin(context.model, context.X_pool), dtype=np.float64)


def decision_margin_scores(context: QueryContext) -> FloatArray:
    """``margin_scores`` on the probabilities the model decides with (``DecisionView``); the
    same as ``margin_scores`` for a model without tuned offsets."""
    if _single_class(context.model):
        return np.zeros(context.X_pool.shape[0])
    margin = classifier_margin(_decision_view(context.model), context.X_pool)
    return 1.0 - np.asarray(margin, dtype=np.float64)


DENSITY_BETA = 3.0
"""Weight of density against margin. 1 is Settles & Craven's default; in exploratory Davidson
runs (MiniLM, 10 seeds, both tasks) 3 beat random in more seeds at 200-400 labels than 1 did.
In the live loop (``al_simulate``, Davidson 3-class) plain margin still did better: area under
the learning curve 1.047x random's against 1.031x, so queues default to margin."""


def density_margin_scores(context: QueryContext) -> FloatArray:
    """Margin uncertainty times pool density to the power ``DENSITY_BETA``, shape ``(n,)``."""
    uncertainty = margin_scores(context)
    if not uncertainty.any():
        return uncertainty
    density = pool_density(context.X_pool, context.generator())
    return density_weighted(uncertainty, density, DENSITY_BETA)


def entropy_scores(context: QueryContext) -> FloatArray:
    """Entropy of ``p(.|x)`` per pool item, shape ``(n,)`` (modAL ``classifier_entropy``)."""
    return np.asarray(classifier_entropy(context.model, context.X_pool), dtype=np.float64)


def vote_entropy_scores(context: QueryContext) -> FloatArray:
    """Vote entropy of a committee, shape ``(n,)`` (modAL ``disagreement.vote_entropy``).

    modAL wants its own ``Committee`` of ``ActiveLearner``s; wrapping already fitted estimators
    (no ``X_training``) never calls the broken ``teach``/``check_X_y`` path.
    """
    if context.committee_factory is None:
        raise StrategyError("strategy 'qbc' needs a committee_factory (fitted committee members)")
    members = list(context.committee_factory())
    if len(members) < 2:
        raise StrategyError("a committee needs at least two members")
    committee = Committee([ActiveLearner(estimator=member) for member in members])
    return np.asarray(vote_entropy(committee, context.X_pool), dtype=np.float64)


def random_scores(context: QueryContext) -> FloatArray:
    """Uniform random scores, shape ``(n,)``: the passive-learning baseline."""
    return np.asarray(context.generator().random(context.X_pool.shape[0]), dtype=np.float64)


# --- selections -------------------------------------------------------------------------------


def top_k(scores: FloatArray, k: int, rng: np.random.Generator | None = None) -> IndexArray:
    """Indices of the ``k`` highest ``scores`` (shape ``(n,)``), best first.

    Ties are broken at random with ``rng`` (in index order without one), so a flat score
    vector does not always favour the start of the pool.
    """
    n = len(scores)
    _check_k(k, n)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    shuffled = np.asarray(scores, dtype=np.float64)[order]
    candidates = np.argpartition(-shuffled, k - 1)[:k] if k < n else np.arange(n)
    ranked = candidates[np.argsort(-shuffled[candidates], kind="stable")]
    return np.asarray(order[ranked], dtype=np.intp)


def _top_k_selection(scores: FloatArray, context: QueryContext, k: int) -> IndexArray:
    return top_k(scores, k, context.rng)


def ranked_batch_select(
    uncertainty: FloatArray, X_pool: FloatArray, X_labelled: FloatArray | None, k: int
) -> IndexArray:
    """Cardoso et al.'s ranked batch mode, as ``modAL.batch.ranked_batch`` computes it.

    Greedily picks the item maximising ``alpha * (1 - 1/(1 + d_min)) + (1 - alpha) * u`` where
    ``d_min`` is the Euclidean distance to the nearest labelled-or-already-picked item and
    ``alpha = |unpicked| / (|unpicked| + |labelled and picked|)``. modAL recomputes every
    pool-to-labelled distance for each of the ``k`` picks (``O(k * n * m * d)``, tens of seconds
    per round on 20k x 3k items) and rebuilds a Python index list per pick; keeping the running
    minimum distance gives the same picks in ``O((m + k) * n * d)``.
    """
    n = X_pool.shape[0]
    _check_k(k, n)
    pool, labelled = _dense_for_distances(X_pool, X_labelled)
    picked: list[int] = []
    if labelled is None or labelled.shape[0] == 0:
        # Cold start (modAL select_cold_start_instance): the most central item.
        centre = pool.mean(axis=0)
        first = int(np.argmin(((pool - centre) ** 2).sum(axis=1)))
        picked.append(first)
        nearest = np.sqrt(((pool - pool[first]) ** 2).sum(axis=1))
        n_labelled = 1
    else:
        nearest = _min_distances(pool, labelled)
        n_labelled = labelled.shape[0]
    available = np.ones(n, dtype=bool)
    available[picked] = False
    while len(picked) < k:
        n_unpicked = n - len(picked)
        alpha = n_unpicked / (n_unpicked + n_labelled)
        combined = alpha * (1.0 - 1.0 / (1.0 + nearest)) + (1.0 - alpha) * uncertainty
        combined = np.where(available, combined, -np.inf)
        best = int(np.argmax(combined))
        picked.append(best)
        available[best] = False
        n_labelled += 1
        nearest = np.minimum(nearest, np.sqrt(((pool - pool[best]) ** 2).sum(axis=1)))
    return np.asarray(picked, dtype=np.intp)


DISTANCE_DIMENSIONS = 256


def _dense_for_distances(
    X_pool: Any, X_labelled: Any | None
) -> tuple[FloatArray, FloatArray | None]:
    """Dense float64 views of the pool and labelled rows for Euclidean distances.

    Sparse features (TF-IDF, hundreds of thousands of columns) are mapped to
    ``DISTANCE_DIMENSIONS`` columns by one sparse random projection fitted on the pool, which
    keeps pairwise distances within a small factor (Johnson-Lindenstrauss) at a fraction of the
    memory; dense input passes through unchanged.
    """
    if not sp.issparse(X_pool):
        labelled = None if X_labelled is None else np.asarray(X_labelled, dtype=np.float64)
        return np.asarray(X_pool, dtype=np.float64), labelled
    projection = SparseRandomProjection(n_components=DISTANCE_DIMENSIONS, random_state=0)
    pool = np.asarray(projection.fit_transform(X_pool), dtype=np.float64)
    if X_labelled is None or X_labelled.shape[0] == 0:
        return pool, None
    return pool, np.asarray(projection.transform(X_labelled), dtype=np.float64)


def _min_distances(pool: FloatArray, reference: FloatArray, chunk: int = 2048) -> FloatArray:
    """Euclidean distance from each pool row to its nearest reference row, shape ``(n,)``."""
    reference_norms = (reference**2).sum(axis=1)
    result = np.empty(len(pool))
    for start in range(0, len(pool), chunk):
        part = pool[start : start + chunk]
        squared = (part**2).sum(axis=1)[:, None] - 2.0 * part @ reference.T + reference_norms
        result[start : start + chunk] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return result


def _ranked_batch_selection(scores: FloatArray, context: QueryContext, k: int) -> IndexArray:
    return ranked_batch_select(scores, context.X_pool, context.X_labelled, k)


def cluster_select(
    scores: FloatArray,
    X_pool: FloatArray,
    k: int,
    rng: np.random.Generator,
    *,
    candidates: int | None = None,
) -> IndexArray:
    """Diversity: k-means (``MiniBatchKMeans``, ``k`` clusters) and the top-scored item per cluster.

    ``candidates``: cluster only the that many highest-scored items (cluster-margin); ``None``
    clusters the whole pool. Empty clusters leave slots that are filled by ``top_k``.
    """
    n = len(scores)
    _check_k(k, n)
    considered = top_k(scores, min(candidates, n), rng) if candidates else np.arange(n)
    if len(considered) <= k:
        return top_k(scores, k, rng)
    kmeans = MiniBatchKMeans(
        n_clusters=k,
        random_state=int(rng.integers(2**31 - 1)),
        n_init=1,
        batch_size=min(2048, len(considered)),
    )
    clusters = kmeans.fit_predict(X_pool[considered])
    considered_scores = np.asarray(scores)[considered]
    order = np.lexsort((-considered_scores, clusters))  # by cluster, best score first
    first_of_cluster = np.ones(len(order), dtype=bool)
    first_of_cluster[1:] = clusters[order][1:] != clusters[order][:-1]
    chosen = considered[order[first_of_cluster]]
    return _fill(chosen, scores, k, rng)


def _fill(
    chosen: IndexArray, scores: FloatArray, k: int, rng: np.random.Generator | None
) -> IndexArray:
    """Top up ``chosen`` to ``k`` distinct indices with the best remaining scores."""
    chosen = np.asarray(chosen, dtype=np.intp)[:k]
    if len(chosen) == k:
        return chosen
    remaining = np.asarray(scores, dtype=np.float64).copy()
    remaining[chosen] = -np.inf
    extra = top_k(remaining, k - len(chosen), rng)
    return np.concatenate([chosen, extra]).astype(np.intp)


def class_balanced_select(
    scores: FloatArray, predicted: npt.NDArray[Any], k: int, rng: np.random.Generator | None
) -> IndexArray:
    """Allot the batch equally across predicted classes; top-scored items within each.

    ``predicted``: the model's predicted class per pool item, shape ``(n,)``. A class with too
    few predicted items gives its unused slots to the others (via the best remaining scores),
    so a rare class is queried as much as the pool allows instead of being drowned out.
    """
    n = len(scores)
    _check_k(k, n)
    classes = np.unique(predicted)
    share = k // len(classes)
    extra = k - share * len(classes)
    order = rng.permutation(len(classes)) if rng is not None else np.arange(len(classes))
    chosen: list[IndexArray] = []
    for position, class_index in enumerate(order):
        members = np.flatnonzero(predicted == classes[class_index])
        quota = min(share + (1 if position < extra else 0), len(members))
        if quota > 0:
            chosen.append(members[top_k(np.asarray(scores)[members], quota, rng)])
    picked = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.intp)
    return _fill(picked, scores, k, rng)


def _predicted_classes(context: QueryContext) -> npt.NDArray[Any]:
    proba = np.asarray(context.model.predict_proba(context.X_pool))
    predicted: npt.NDArray[Any] = proba.argmax(axis=1)
    return predicted


def _diversity_selection(scores: FloatArray, context: QueryContext, k: int) -> IndexArray:
    return cluster_select(scores, context.X_pool, k, context.generator())


def _cluster_margin_selection(scores: FloatArray, context: QueryContext, k: int) -> IndexArray:
    return cluster_select(scores, context.X_pool, k, context.generator(), candidates=10 * k)


def _adaptive_cluster_margin_selection(
    scores: FloatArray, context: QueryContext, k: int
) -> IndexArray:
    """Cluster-margin whose candidate set shrinks as labels accumulate.

    With ``m`` labels the ``10k * max(1, 1000 / m)`` most uncertain items are clustered: the
    whole pool at a cold start, where a weak model's uncertainty is least trustworthy and
    coverage matters most, narrowing to the ``10k`` most uncertain from 1,000 labels on.
    """
    labelled = 0 if context.X_labelled is None else len(context.X_labelled)
    factor = max(1.0, 1000.0 / max(labelled, 1))
    candidates = int(min(len(scores), 10 * k * factor))
    return cluster_select(scores, context.X_pool, k, context.generator(), candidates=candidates)


def _class_balanced_selection(scores: FloatArray, context: QueryContext, k: int) -> IndexArray:
    return class_balanced_select(scores, _predicted_classes(context), k, context.rng)


def _balanced_cluster_selection(scores: FloatArray, context: QueryContext, k: int) -> IndexArray:
    """Class-balanced quotas, each filled by cluster-margin within the predicted class."""
    rng = context.generator()
    predicted = _predicted_classes(context)
    classes = np.unique(predicted)
    share, extra = divmod(k, len(classes))
    chosen: list[IndexArray] = []
    for position, class_index in enumerate(rng.permutation(len(classes))):
        members = np.flatnonzero(predicted == classes[class_index])
        quota = min(share + (1 if position < extra else 0), len(members))
        if quota > 0:
            local = cluster_select(
                np.asarray(scores)[members],
                context.X_pool[members],
                quota,
                rng,
                candidates=10 * quota,
            )
            chosen.append(members[local])
    picked = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.intp)
    return _fill(picked, scores, k, rng)


def _gradient_norm_scores(context: QueryContext) -> FloatArray:
    return gradient_norms(context.model.predict_proba(context.X_pool), context.X_pool)


def _badge_selection(scores: FloatArray, context: QueryContext, k: int) -> IndexArray:
    return badge_among_longest(
        scores, context.X_pool, context.model.predict_proba, k, context.generator()
    )


def _check_k(k: int, n: int) -> None:
    if k < 1:
        raise StrategyError(f"k must be at least 1, got {k}")
    if k > n:
        raise StrategyError(f"k={k} is larger than the pool ({n} items)")


STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy("random", random_scores, _top_k_selection, "uniform random (baseline)"),
        Strategy(
            "least_confidence", least_confidence_scores, _top_k_selection, "1 - max probability"
        ),
        Strategy("margin", margin_scores, _top_k_selection, "smallest top-2 probability margin"),
        Strategy(
            "decision_margin",
            decision_margin_scores,
            _top_k_selection,
            "smallest top-2 margin of the probabilities the model decides with (its balanced "
            "scores shifted by its tuned class thresholds)",
        ),
        Strategy("entropy", entropy_scores, _top_k_selection, "highest predictive entropy"),
        Strategy(
            "density_margin",
            density_margin_scores,
            _top_k_selection,
            "margin uncertainty weighted by similarity to the pool (information density)",
        ),
        Strategy("qbc", vote_entropy_scores, _top_k_selection, "committee vote entropy"),
        Strategy(
            "badge",
            _gradient_norm_scores,
            _badge_selection,
            "BADGE: k-means++ over gradient embeddings (uncertain and diverse)",
        ),
        Strategy(
            "ranked_batch",
            least_confidence_scores,
            _ranked_batch_selection,
            "Cardoso ranked batch: uncertainty traded against distance to labelled items",
        ),
        Strategy(
            "diversity",
            margin_scores,
            _diversity_selection,
            "k-means over the pool, most uncertain item per cluster",
        ),
        Strategy(
            "cluster_margin",
            margin_scores,
            _cluster_margin_selection,
            "k-means over the 10k most uncertain items, most uncertain per cluster",
        ),
        Strategy(
            "cluster_margin_adaptive",
            margin_scores,
            _adaptive_cluster_margin_selection,
            "cluster-margin over a candidate set that narrows from the whole pool at a cold "
            "start to the 10k most uncertain from 1,000 labels on",
        ),
        Strategy(
            "margin_balanced",
            margin_scores,
            _class_balanced_selection,
            "margin, batch allotted equally across predicted classes",
        ),
        Strategy(
            "qbc_balanced",
            vote_entropy_scores,
            _class_balanced_selection,
            "committee vote entropy, batch allotted equally across predicted classes",
        ),
        Strategy(
            "balanced_cluster_margin",
            margin_scores,
            _balanced_cluster_selection,
            "class-balanced quotas, each filled by cluster-margin",
        ),
    )
}


def get_strategy(name: str) -> Strategy:
    """The registered strategy ``name``; ``StrategyError`` listing the known names otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise StrategyError(f"unknown query strategy {name!r}; known: {known}") from None


def select(
    strategy_name: str,
    *,
    model: Classifier,
    X_pool: FloatArray,
    k: int,
    rng: np.random.Generator,
    committee_factory: CommitteeFactory | None = None,
    X_labelled: FloatArray | None = None,
    timings: dict[str, float] | None = None,
) -> IndexArray:
    """Pick ``k`` distinct row indices of ``X_pool`` (shape ``(n, d)``) to label next.

    ``model`` is fitted on the labelled set; ``X_labelled`` (shape ``(m, d)``) is only used by
    ``ranked_batch``; ``committee_factory`` only by the committee strategies. Returns an int
    array of shape ``(k,)``, most informative first where the selection ranks. ``timings``, if
    given, receives ``score_s`` (the measure) and ``select_s`` (the batch selection).
    """
    strategy = get_strategy(strategy_name)
    _check_k(k, X_pool.shape[0])
    context = QueryContext(
        model=query_view(model),
        X_pool=X_pool,
        rng=rng,
        X_labelled=X_labelled,
        committee_factory=committee_factory,
    )
    started = time.perf_counter()
    measured = strategy.measure(context)
    scored = time.perf_counter()
    selected = strategy.selection(measured, context, k)
    if timings is not None:
        timings["score_s"] = scored - started
        timings["select_s"] = time.perf_counter() - scored
    return selected


def scores(
    strategy_name: str,
    model: Classifier,
    X_pool: FloatArray,
    *,
    rng: np.random.Generator | None = None,
    committee_factory: CommitteeFactory | None = None,
) -> FloatArray:
    """Per-item priority for ranking a whole queue, shape ``(n,)``, higher = label sooner.

    This is the strategy's measure only; batch selections (ranked batch, clusters, class
    quotas) shape a batch and have no per-item equivalent.
    """
    strategy = get_strategy(strategy_name)
    context = QueryContext(
        model=query_view(model), X_pool=X_pool, rng=rng, committee_factory=committee_factory
    )
    return strategy.measure(context)
