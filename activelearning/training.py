"""The per-policy classifier head and the function that trains and evaluates it.

``TextClassifierHead`` follows the scikit-learn contract. It is a class-balanced logistic
regression with two outputs:

- ``predict_proba``: probabilities calibrated on out-of-fold predictions (matrix scaling: a
  small multinomial regression on the out-of-fold log-probabilities; Platt scaling for two
  classes). They reflect the class prior of the labelled set; reviewers see them and the
  enforcement order weighs them.
- ``predict`` and ``balanced_proba``: the class-balanced regression's own log-probabilities;
  ``predict`` adds per-class offsets chosen on out-of-fold predictions to maximise macro-F1,
  averaged over bootstrap resamples of those predictions so that a young model's decisions do
  not swing with a handful of rare-class labels. Given the unlabelled pool, the offsets
  maximise the macro-F1 expected over labelled and pool items instead (``thresholds``).

Fused features (MiniLM ⊕ TF-IDF) are stacked when the head is given their ``blocks``: one
regression per block, and a small regression on their out-of-fold log-probabilities, so that
each policy's labels decide how far to trust sentence embeddings against word and character
n-grams (one regression on the concatenation lets the wide TF-IDF block dominate the penalty).
Measured on Davidson 3-class (10 paired 80/20 splits,
``benchmarks/results/text_model_davidson.json``): macro-F1 0.760 stacked against 0.749, ahead
in all 10 splits (hate F1 0.469 against 0.453).

Why decisions and query strategies do not use the calibrated output: calibration learns the
labelled set's class prior, and an actively learned set has a skewed, moving prior. Measured on
Davidson 3-class (MiniLM, 10 seeds; ``benchmarks/results/al_davidson_3class_head*.json``):
margin sampling on the balanced scores has 1.047x random's area under the learning curve at
batch 50 and 1.055x at batch 25; on the calibrated scores it had 0.99x (the earlier head; 3
seeds, batch 100). Full-data macro-F1
is the same either way (10 paired splits, MiniLM: 0.7157 with offsets on balanced scores,
0.7151 on calibrated).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    precision_recall_fscore_support,
)
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from activelearning.thresholds import bagged_offsets, pool_sample, population_offsets

# A dense float array or a scipy sparse matrix of shape (n, d); scipy ships no type hints.
Features: TypeAlias = Any
FloatArray = npt.NDArray[np.float64]

_CALIBRATIONS = ("matrix", "none")


class TrainingRefused(ValueError):
    """The labels cannot train a useful model (one class only, or too few of some class)."""


def _log_softmax(scores: FloatArray) -> FloatArray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    result: FloatArray = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return result


def _as_multiclass_scores(decision: FloatArray) -> FloatArray:
    """LogisticRegression's decision function as ``(n, k)`` log-odds, also for ``k == 2``."""
    if decision.ndim == 1:
        return np.column_stack([np.zeros_like(decision), decision])
    return decision


def _scores_log_proba(decision: FloatArray) -> FloatArray:
    """Log-probabilities ``(n, k)`` from a regression's ``(n, k)`` or binary ``(n, 1)`` scores."""
    if decision.shape[1] == 1:
        return _log_softmax(_as_multiclass_scores(decision[:, 0]))
    return _log_softmax(decision)


# A sparse block of at most this many columns with more than this share of its cells filled
# is fitted as a dense array (an embedding inside a fused matrix); the column cap bounds memory.
_DENSIFY_SHARE = 0.25
_DENSIFY_MAX_COLUMNS = 4096


@dataclass(frozen=True)
class _Linear:
    """A fitted linear model's full-width coefficients: ``coef`` (k', d), ``intercept`` (k',)."""

    coef: FloatArray
    intercept: FloatArray
    n_iter: Any

    def decision(self, X: Features) -> FloatArray:
        """Scores ``(n, k')``: log-odds (binary, ``k' = 1``) or per-class logits."""
        scores: FloatArray = np.asarray(X @ self.coef.T) + self.intercept
        return scores


class TextClassifierHead(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Class-balanced logistic regression with calibrated probabilities and tuned decisions.

    Args:
        C: inverse L2 regularisation strength of the logistic regression.
        class_weight: passed to ``LogisticRegression`` (``"balanced"`` handles imbalance).
        calibration: ``"matrix"`` (fit a multinomial calibrator on out-of-fold
            log-probabilities) or ``"none"``.
        tune_thresholds: choose per-class offsets for ``predict`` on out-of-fold predictions.
        threshold_bootstraps: average the offsets over this many bootstrap resamples of the
            out-of-fold predictions (``0``: tune once on all of them).
        internal_folds: folds used for the out-of-fold predictions (fewer when a class is
            smaller); with calibration ``"none"`` and no tuning, no folds are fitted (fast path).
        blocks: column widths of the feature blocks ``X`` is made of (e.g. ``(384, 114654)``
            for MiniLM ⊕ TF-IDF; they must add up to ``X``'s width). With two or more, the
            head stacks: one regression per block, and a small balanced regression (``stack_C``)
            on their out-of-fold log-probabilities that learns how much to trust each block
            on this policy's labels. ``None``: one regression on all columns.
        stack_C: inverse regularisation strength of the stacking regression.
        max_iter: iterations of the lbfgs solver.
        random_state: seed of the fold split and of the threshold resamples.

    Learned attributes: ``classes_`` (k,), ``n_features_in_``, ``n_iter_``, ``coef_`` (k', d),
    ``intercept_`` (k',) of the final regression (stacked: ``(B·k', d)`` and ``(B·k',)``, block
    ``b``'s regression in rows ``b·k'…`` and zero outside its columns), ``stack_coef_`` and
    ``stack_intercept_`` (the stacking regression; empty when not stacked),
    ``calibration_coef_`` (k, k) and ``calibration_intercept_`` (k,) (identity/zero when
    uncalibrated), ``class_offsets_`` (k,),
    ``decision_space_``: ``"balanced"`` (offsets apply to ``balanced_log_proba``) or
    ``"calibrated"`` (to calibrated log-probabilities: heads saved by artifact format 1).
    """

    def __init__(
        self,
        *,
        C: float = 4.0,
        class_weight: str | None = "balanced",
        calibration: str = "matrix",
        tune_thresholds: bool = True,
        threshold_bootstraps: int = 10,
        internal_folds: int = 3,
        max_iter: int = 300,
        random_state: int = 0,
        blocks: Sequence[int] | None = None,
        stack_C: float = 1.0,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.calibration = calibration
        self.tune_thresholds = tune_thresholds
        self.threshold_bootstraps = threshold_bootstraps
        self.internal_folds = internal_folds
        self.max_iter = max_iter
        self.random_state = random_state
        self.blocks = blocks
        self.stack_C = stack_C

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _regression(self, X: Features, y: npt.NDArray[np.intp], C: float | None = None) -> _Linear:
        """A balanced logistic regression fitted on ``X`` (n, d), as full-width coefficients.

        Sparse input is fitted on the columns that have a value in these rows only: the others
        get a zero coefficient under the L2 penalty anyway, and L-BFGS's cost grows with the
        number of coefficients. With 3,000 labelled rows of a 115k-column TF-IDF vocabulary,
        most columns are empty, and a fit takes a fraction of the time.
        Narrow sparse blocks that are mostly filled (a dense embedding inside a fused CSR
        matrix) are fitted dense, which is several times faster.
        """
        model = LogisticRegression(
            C=self.C if C is None else C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            solver="lbfgs",
        )
        if not sp.issparse(X):
            model.fit(X, y)
            return _Linear(model.coef_, model.intercept_, model.n_iter_)
        if X.shape[1] <= _DENSIFY_MAX_COLUMNS and X.nnz > _DENSIFY_SHARE * X.shape[0] * X.shape[1]:
            model.fit(X.toarray(), y)
            return _Linear(model.coef_, model.intercept_, model.n_iter_)
        active = np.flatnonzero(X.getnnz(axis=0))
        model.fit(X[:, active], y)
        coef = np.zeros((model.coef_.shape[0], X.shape[1]), dtype=model.coef_.dtype)
        coef[:, active] = model.coef_
        return _Linear(coef, model.intercept_, model.n_iter_)

    def _block_bounds(self, n_features: int) -> list[tuple[int, int]]:
        """``[(start, stop), …]`` of the feature blocks; one block when ``blocks`` is unset."""
        if self.blocks is None:
            return [(0, n_features)]
        widths = [int(width) for width in self.blocks]
        if any(width < 1 for width in widths) or sum(widths) != n_features:
            raise ValueError(
                f"blocks {widths} must be positive widths adding up to the {n_features} "
                "feature columns"
            )
        stops = np.cumsum(widths)
        return [(int(stop - width), int(stop)) for width, stop in zip(widths, stops, strict=True)]

    def fit(
        self,
        X: Features,
        y: npt.ArrayLike,
        X_unlabelled: Features | None = None,
        unlabelled_weight: float = 1.0,
    ) -> Self:
        """Fit on features ``X`` (n, d), dense or sparse, and labels ``y`` (n,).

        ``X_unlabelled`` (m, d): items the model will serve that have no label yet (the pool,
        or a sample of it whose rows each stand for ``unlabelled_weight`` items). With them
        (and calibration), ``predict``'s offsets maximise the macro-F1 expected over labelled
        and unlabelled items together (``thresholds.population_offsets``), not over the
        labelled set alone, which active learning makes unlike the pool.
        """
        # One BLAS thread: these problems are small, and on a busy 2-core box multi-threaded
        # BLAS oversubscribes the CPUs. Measured: 3,000 x 384 fit 17.6 s -> 1.1 s under load.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y, X_unlabelled, unlabelled_weight)

    def _fit(
        self, X: Features, y: npt.ArrayLike, X_unlabelled: Features | None, unlabelled_weight: float
    ) -> Self:
        if self.calibration not in _CALIBRATIONS:
            raise ValueError(
                f"calibration must be one of {_CALIBRATIONS}, not {self.calibration!r}"
            )
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"TextClassifierHead needs at least 2 classes in y; got 1 class: {self.classes_!r}"
            )
        self.calibration_coef_ = np.eye(n_classes)
        self.calibration_intercept_ = np.zeros(n_classes)
        self.class_offsets_ = np.zeros(n_classes)
        self.decision_space_ = "balanced"
        bounds = self._block_bounds(X.shape[1])
        folds = min(self.internal_folds, int(np.bincount(encoded).min()))
        out_of_fold: FloatArray | None = None
        if len(bounds) > 1 and folds >= 2:
            out_of_fold = self._fit_stacked(X, encoded, bounds, folds)
        else:
            # One regression (also the fallback when a class is too small to stack on folds).
            final = self._regression(X, encoded)
            self.coef_, self.intercept_, self.n_iter_ = final.coef, final.intercept, final.n_iter
            self.stack_coef_ = np.zeros((0, 0))
            self.stack_intercept_ = np.zeros(0)

        needs_folds = self.calibration != "none" or self.tune_thresholds
        if needs_folds and folds >= 2:
            if out_of_fold is None:
                out_of_fold = self._out_of_fold_log_proba(X, encoded, folds)
            if self.calibration == "matrix":
                self._fit_calibration(out_of_fold, encoded)
            if self.tune_thresholds:
                self.class_offsets_ = self._tuned_offsets(
                    out_of_fold, encoded, X_unlabelled, unlabelled_weight
                )
        return self

    def _tuned_offsets(
        self,
        out_of_fold: FloatArray,
        encoded: npt.NDArray[np.intp],
        X_unlabelled: Features | None,
        unlabelled_weight: float,
    ) -> FloatArray:
        rng = np.random.default_rng(self.random_state)
        if X_unlabelled is None or X_unlabelled.shape[0] == 0 or self.calibration != "matrix":
            return bagged_offsets(out_of_fold, encoded, self.threshold_bootstraps, rng)
        rows, weight = pool_sample(X_unlabelled.shape[0], rng)
        pool = validate_data(
            self,
            X_unlabelled[rows],
            accept_sparse="csr",
            reset=False,
            dtype=[np.float64, np.float32],
        )
        raw = self._raw_log_proba(pool)
        return population_offsets(
            out_of_fold,
            encoded,
            raw,
            np.exp(self._calibrate(raw)),
            pool_weight=weight * unlabelled_weight,
        )

    def _out_of_fold_log_proba(
        self, X: Features, encoded: npt.NDArray[np.intp], folds: int
    ) -> FloatArray:
        """Uncalibrated log-probabilities of each training row from a model that never saw it."""
        result = np.zeros((encoded.shape[0], len(self.classes_)))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for train_index, test_index in splitter.split(np.zeros(encoded.shape[0]), encoded):
            model = self._regression(X[train_index], encoded[train_index])
            result[test_index] = _scores_log_proba(model.decision(X[test_index]))
        return result

    def _fit_stacked(
        self,
        X: Features,
        encoded: npt.NDArray[np.intp],
        bounds: list[tuple[int, int]],
        folds: int,
    ) -> FloatArray:
        """Fit one regression per block and the stacker; return the stacker's out-of-fold
        log-probabilities (for calibration and offsets).

        The stacker learns from the blocks' out-of-fold log-probabilities, so it weighs each
        block by how well it predicts rows it did not see; its own out-of-fold predictions
        come from refitting it (a small problem: ``B·k`` columns) on folds of those.
        """
        n_classes = len(self.classes_)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        splits = list(splitter.split(np.zeros(encoded.shape[0]), encoded))
        stacked_inputs = np.zeros((encoded.shape[0], n_classes * len(bounds)))
        coef_rows: list[Any] = []
        intercepts: list[Any] = []
        iterations: list[Any] = []
        for index, (start, stop) in enumerate(bounds):
            block = X[:, start:stop]
            columns = slice(index * n_classes, (index + 1) * n_classes)
            for train_index, test_index in splits:
                model = self._regression(block[train_index], encoded[train_index])
                stacked_inputs[test_index, columns] = _scores_log_proba(
                    model.decision(block[test_index])
                )
            final = self._regression(block, encoded)
            coef = np.zeros((final.coef.shape[0], X.shape[1]), dtype=final.coef.dtype)
            coef[:, start:stop] = final.coef
            coef_rows.append(coef)
            intercepts.append(final.intercept)
            iterations.append(final.n_iter)
        self.coef_ = np.vstack(coef_rows)
        self.intercept_ = np.concatenate(intercepts)
        self.n_iter_ = np.concatenate(iterations)
        stacker = self._regression(stacked_inputs, encoded, self.stack_C)
        self.stack_coef_, self.stack_intercept_ = stacker.coef, stacker.intercept
        out_of_fold = np.zeros((encoded.shape[0], n_classes))
        for train_index, test_index in splits:
            model = self._regression(
                stacked_inputs[train_index], encoded[train_index], self.stack_C
            )
            out_of_fold[test_index] = _scores_log_proba(model.decision(stacked_inputs[test_index]))
        return out_of_fold

    def _fit_calibration(self, log_proba: FloatArray, encoded: npt.NDArray[np.intp]) -> None:
        calibrator = LogisticRegression(C=100.0, max_iter=1000).fit(log_proba, encoded)
        coef = np.atleast_2d(calibrator.coef_)
        intercept = np.atleast_1d(calibrator.intercept_)
        if coef.shape[0] == 1:
            # Binary: one logistic on the log-odds; expand to per-class logits [0, z].
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        self.calibration_coef_ = coef
        self.calibration_intercept_ = intercept

    def _calibrate(self, log_proba: FloatArray) -> FloatArray:
        return _log_softmax(log_proba @ self.calibration_coef_.T + self.calibration_intercept_)

    def _raw_log_proba(self, X: Features) -> FloatArray:
        decision = np.asarray(X @ self.coef_.T) + self.intercept_
        stack_coef = self.stack_coef_
        if stack_coef.size == 0:
            return _scores_log_proba(decision)
        per_block = decision.shape[1] // (stack_coef.shape[1] // len(self.classes_))
        stacked_inputs = np.hstack(
            [
                _scores_log_proba(decision[:, start : start + per_block])
                for start in range(0, decision.shape[1], per_block)
            ]
        )
        return _scores_log_proba(stacked_inputs @ stack_coef.T + self.stack_intercept_)

    def predict_log_proba(self, X: Features) -> FloatArray:
        """Calibrated log-probabilities, shape ``(n, k)``, columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=[np.float64, np.float32])
        return self._calibrate(self._raw_log_proba(X))

    def predict_proba(self, X: Features) -> FloatArray:
        """Calibrated probabilities, shape ``(n, k)``; rows sum to 1."""
        return np.exp(self.predict_log_proba(X))

    def balanced_log_proba(self, X: Features) -> FloatArray:
        """The class-balanced regression's log-probabilities, shape ``(n, k)``, uncalibrated.

        Every class weighs the same here whatever its share of the labels, which is what
        decisions and active-learning queries need (see the module docstring).
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=[np.float64, np.float32])
        return self._raw_log_proba(X)

    def balanced_proba(self, X: Features) -> FloatArray:
        """``exp(balanced_log_proba)``, shape ``(n, k)``; what query strategies score."""
        return np.exp(self.balanced_log_proba(X))

    def predict(self, X: Features) -> npt.NDArray[Any]:
        """Labels, shape ``(n,)``: ``argmax(balanced_log_proba + class_offsets_)`` (calibrated
        log-probabilities instead for a head whose ``decision_space_`` says so)."""
        if getattr(self, "decision_space_", "balanced") == "calibrated":
            log_proba = self.predict_log_proba(X)
        else:
            log_proba = self.balanced_log_proba(X)
        decision = log_proba + self.class_offsets_
        predicted: npt.NDArray[Any] = self.classes_[np.argmax(decision, axis=1)]
        return predicted


@dataclass(frozen=True)
class TrainingResult:
    """A fitted head plus what a model version records about it."""

    model: TextClassifierHead
    metrics: dict[str, Any]
    params: dict[str, Any]
    training_set_sha256: str
    library_versions: dict[str, str]
    label_counts: dict[str, int]
    duration_seconds: float
    rng_seed: int
    extra: dict[str, Any] = field(default_factory=dict)


def training_set_fingerprint(item_ids: Sequence[Any], labels: Sequence[Any]) -> str:
    """SHA-256 over the sorted ``(item id, label)`` pairs; order of the input does not matter."""
    pairs = sorted(
        (str(item_id), str(label)) for item_id, label in zip(item_ids, labels, strict=True)
    )
    digest = hashlib.sha256()
    for item_id, label in pairs:
        digest.update(f"{len(item_id)}:{item_id}{len(label)}:{label}\n".encode())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on (without importing torch)."""
    versions: dict[str, str] = {}
    for distribution in ("numpy", "scipy", "scikit-learn", "torch", "sentence-transformers"):
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def evaluation_metrics(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, proba: FloatArray, classes: npt.NDArray[Any]
) -> dict[str, Any]:
    """Held-out metrics: macro-F1, accuracy, per-class precision/recall/F1 and PR-AUC.

    Shapes: ``y_true`` (n,), ``y_pred`` (n,), ``proba`` (n, k) with columns in ``classes`` order.
    For two classes ``pr_auc`` is the average precision of ``classes[1]``; per class it is
    one-vs-rest average precision.
    """
    y_true = np.asarray(y_true)
    labels = list(classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_class: dict[str, dict[str, float]] = {}
    for index, label in enumerate(labels):
        positives = y_true == label
        average_precision = (
            float(average_precision_score(positives, proba[:, index])) if positives.any() else 0.0
        )
        per_class[str(label)] = {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(support[index]),
            "pr_auc": average_precision,
        }
    metrics: dict[str, Any] = {
        "macro_f1": float(np.mean(f1)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class": per_class,
        "test_size": int(y_true.shape[0]),
    }
    if len(labels) == 2:
        metrics["pr_auc"] = per_class[str(labels[1])]["pr_auc"]
    return metrics


def _check_trainable(labels: npt.NDArray[Any], min_labels_per_class: int) -> dict[str, int]:
    values, counts = np.unique(labels, return_counts=True)
    label_counts = {str(value): int(count) for value, count in zip(values, counts, strict=True)}
    if len(values) < 2:
        raise TrainingRefused(
            f"training needs at least two classes; every label is {values[0]!r}"
            if len(values)
            else "training needs labels; none were given"
        )
    scarce = {label: count for label, count in label_counts.items() if count < min_labels_per_class}
    if scarce:
        raise TrainingRefused(
            f"training needs at least {min_labels_per_class} labels per class; "
            f"too few for: {scarce}"
        )
    return label_counts


def train_policy_model(
    X: Features,
    y: npt.ArrayLike,
    *,
    item_ids: Sequence[Any] | None = None,
    params: dict[str, Any] | None = None,
    rng_seed: int = 0,
    test_fraction: float = 0.2,
    min_labels_per_class: int = 10,
    refit_on_all: bool = False,
    X_unlabelled: Features | None = None,
    unlabelled_weight: float = 1.0,
) -> TrainingResult:
    """Train a ``TextClassifierHead`` on a stratified split and evaluate it on the rest.

    Args:
        X: features, shape ``(n, d)`` (dense or sparse).
        y: labels, shape ``(n,)``.
        item_ids: ids of the ``n`` labelled items, for the training-set fingerprint
            (row numbers when omitted).
        params: ``TextClassifierHead`` parameters; unknown keys raise ``ValueError``.
        rng_seed: seeds the split and the head's internal folds.
        test_fraction: share of labels held out for the metrics.
        min_labels_per_class: below this for any class, raise ``TrainingRefused``.
        refit_on_all: after evaluating, refit the returned head on all ``n`` labels (the
            metrics still describe the split-trained model, a slightly pessimistic estimate).
        X_unlabelled: features ``(m, d)`` of unlabelled items the model will serve; both fits
            choose their decision offsets over them too (see ``TextClassifierHead.fit``).
        unlabelled_weight: how many pool items each row of ``X_unlabelled`` stands for.

    Raises:
        TrainingRefused: fewer than two classes, or a class with too few labels.
    """
    started = time.perf_counter()
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
        raise ValueError("y must be 1-D with one label per row of X")
    label_counts = _check_trainable(labels, min_labels_per_class)
    ids = list(item_ids) if item_ids is not None else list(range(labels.shape[0]))
    if len(ids) != labels.shape[0]:
        raise ValueError("item_ids must have one id per row of X")

    head_params = {"random_state": rng_seed, **(params or {})}
    head = TextClassifierHead().set_params(**head_params)
    train_index, test_index = train_test_split(
        np.arange(labels.shape[0]), test_size=test_fraction, stratify=labels, random_state=rng_seed
    )
    head.fit(X[train_index], labels[train_index], X_unlabelled, unlabelled_weight)
    proba = head.predict_proba(X[test_index])
    metrics = evaluation_metrics(
        labels[test_index], head.predict(X[test_index]), proba, head.classes_
    )
    metrics["train_size"] = int(train_index.shape[0])
    if refit_on_all:
        head = TextClassifierHead().set_params(**head_params)
        head.fit(X, labels, X_unlabelled, unlabelled_weight)
    duration = time.perf_counter() - started
    metrics["duration_seconds"] = duration
    return TrainingResult(
        model=head,
        metrics=metrics,
        params=head.get_params(),
        training_set_sha256=training_set_fingerprint(ids, labels.tolist()),
        library_versions=library_versions(),
        label_counts=label_counts,
        duration_seconds=duration,
        rng_seed=rng_seed,
    )
