"""Turning several raters' labels into one label per item: majority vote and Dawid-Skene (pure).

Both read a :class:`labeling.agreement.RatingTable` (sparse: each item has its own subset of
raters; the table's ``categories`` are the classes, including ones nobody chose).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import logsumexp

from labeling.agreement import RatingTable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MajorityResult:
    """Per item: ``labels`` (n_items,) category code, -1 on a tie or with no votes;
    ``confidence`` (n_items,) share of the votes the top category got (0 with no votes);
    ``tie`` (n_items,) whether two or more categories share the top count;
    ``votes`` (n_items, n_categories) vote counts."""

    labels: IntArray
    confidence: FloatArray
    tie: BoolArray
    votes: IntArray


def vote_counts(annotations: RatingTable) -> IntArray:
    """(n_items, n_categories) number of votes for each category."""
    return annotations.category_counts()


def majority_vote(annotations: RatingTable) -> MajorityResult:
    """Plurality vote per item. A tie gives label -1 (never an arbitrary pick) and ``tie=True``."""
    votes = vote_counts(annotations)
    totals = votes.sum(axis=1)
    top = votes.max(axis=1, initial=0)
    tie = (votes == top[:, None]).sum(axis=1) > 1
    tie &= totals > 0
    labels = np.where(tie | (totals == 0), -1, votes.argmax(axis=1)).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(totals > 0, top / np.maximum(totals, 1), 0.0)
    return MajorityResult(
        labels=labels, confidence=confidence.astype(np.float64), tie=tie, votes=votes
    )


@dataclass(frozen=True)
class DawidSkeneResult:
    """Dawid-Skene estimates.

    ``posteriors`` (n_items, k) P(true class | ratings); ``labels`` (n_items,) their argmax;
    ``confidence`` (n_items,) the max posterior; ``class_priors`` (k,); ``confusion``
    (n_raters, k, k) with ``confusion[r, true, given]`` = P(rater r says ``given`` | ``true``);
    ``n_annotations`` (n_items,) ratings per item (an item with none gets the priors);
    ``log_likelihood`` of the ratings under the final parameters; ``note`` explains degenerate
    inputs (empty otherwise).
    """

    posteriors: FloatArray
    labels: IntArray
    confidence: FloatArray
    class_priors: FloatArray
    confusion: FloatArray
    n_iter: int
    converged: bool
    n_annotations: IntArray
    log_likelihood: float
    note: str


def dawid_skene(
    annotations: RatingTable,
    *,
    max_iter: int = 100,
    tol: float = 1e-6,
    init: Literal["majority"] | npt.ArrayLike = "majority",
    smoothing: float = 0.01,
) -> DawidSkeneResult:
    """Dawid & Skene (1979) EM over sparse ratings, vectorised.

    E-step: log P(true = j | item) = log prior_j + sum over the item's ratings (r, l) of
    log confusion[r, j, l], normalised. M-step: priors and each rater's confusion rows from the
    posteriors, with ``smoothing`` added to every count (a Dirichlet pseudo-count, so a rater
    who never saw class j gets a near-uniform row instead of 0/0). ``init="majority"`` starts
    from the vote shares per item (Dawid & Skene's own start); an (n_items, k) array of
    posteriors may be given instead. Stops when no posterior moves more than ``tol``.
    """
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")
    if smoothing < 0:
        raise ValueError("smoothing must be non-negative")
    n_items, n_raters, k = annotations.n_items, annotations.n_raters, annotations.n_categories
    items, raters, given = annotations.item_index, annotations.rater_index, annotations.codes
    n_annotations = np.bincount(items, minlength=n_items).astype(np.int64)
    if k == 0:
        raise ValueError("there must be at least one category")

    if isinstance(init, str):
        if init != "majority":
            raise ValueError(f"unknown init {init!r}")
        votes = vote_counts(annotations).astype(np.float64) + 1e-12
        posteriors = votes / votes.sum(axis=1, keepdims=True)
    else:
        posteriors = np.array(init, dtype=np.float64)
        if posteriors.shape != (n_items, k):
            raise ValueError(f"init must have shape {(n_items, k)}")
        posteriors = posteriors / posteriors.sum(axis=1, keepdims=True)

    converged = False
    n_iter = 0
    priors, confusion = _maximise(posteriors, items, raters, given, n_raters, k, smoothing)
    if n_raters < 2:
        # Nothing to weigh one rater against: EM would only drift towards the majority class.
        rated = n_annotations > 0
        priors = _priors(posteriors[rated], smoothing, k)
        posteriors[~rated] = priors
        _, log_likelihood = _expect(priors, confusion, items, raters, given, n_items)
        return _result(
            posteriors, priors, confusion, 0, True, n_annotations, log_likelihood, n_raters, k
        )
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        updated, log_likelihood = _expect(priors, confusion, items, raters, given, n_items)
        change = float(np.abs(updated - posteriors).max(initial=0.0))
        posteriors = updated
        priors, confusion = _maximise(posteriors, items, raters, given, n_raters, k, smoothing)
        if change <= tol:
            converged = True
            break
    posteriors, log_likelihood = _expect(priors, confusion, items, raters, given, n_items)
    return _result(
        posteriors, priors, confusion, n_iter, converged, n_annotations, log_likelihood, n_raters, k
    )


def _result(
    posteriors: FloatArray,
    priors: FloatArray,
    confusion: FloatArray,
    n_iter: int,
    converged: bool,
    n_annotations: IntArray,
    log_likelihood: float,
    n_raters: int,
    k: int,
) -> DawidSkeneResult:
    notes = []
    if n_raters < 2:
        notes.append(
            "fewer than two raters: rater error cannot be told apart from the class, "
            "so the labels are that rater's labels"
        )
    if k == 1:
        notes.append("a single category: every item gets it")
    if (n_annotations == 0).any():
        notes.append(f"{int((n_annotations == 0).sum())} items have no rating and get the priors")
    return DawidSkeneResult(
        posteriors=posteriors,
        labels=posteriors.argmax(axis=1).astype(np.int64),
        confidence=posteriors.max(axis=1, initial=0.0),
        class_priors=priors,
        confusion=confusion,
        n_iter=n_iter,
        converged=converged,
        n_annotations=n_annotations,
        log_likelihood=log_likelihood,
        note="; ".join(notes),
    )


def _maximise(
    posteriors: FloatArray,
    items: IntArray,
    raters: IntArray,
    given: IntArray,
    n_raters: int,
    k: int,
    smoothing: float,
) -> tuple[FloatArray, FloatArray]:
    """M-step: (k,) class priors and (n_raters, k_true, k_given) confusion matrices."""
    priors = _priors(posteriors, smoothing, k)
    # counts[r * k + given, true] += P(true | item) for every rating.
    counts = np.zeros((n_raters * k, k))
    np.add.at(counts, raters * k + given, posteriors[items])
    confusion = counts.reshape(n_raters, k, k).transpose(0, 2, 1) + smoothing
    row_totals = confusion.sum(axis=2, keepdims=True)
    confusion = np.divide(
        confusion, row_totals, out=np.full_like(confusion, 1.0 / k), where=row_totals > 0
    )
    return priors, confusion


def _priors(posteriors: FloatArray, smoothing: float, k: int) -> FloatArray:
    counts = posteriors.sum(axis=0) + smoothing
    total = float(counts.sum())
    return counts / total if total > 0 else np.full(k, 1.0 / k)


def _expect(
    priors: FloatArray,
    confusion: FloatArray,
    items: IntArray,
    raters: IntArray,
    given: IntArray,
    n_items: int,
) -> tuple[FloatArray, float]:
    """E-step: (n_items, k) posteriors and the log-likelihood of the ratings."""
    with np.errstate(divide="ignore"):
        log_priors = np.log(priors)
        log_confusion = np.log(confusion)
    log_joint = np.tile(log_priors, (n_items, 1))
    np.add.at(log_joint, items, log_confusion[raters, :, given])
    normaliser = logsumexp(log_joint, axis=1, keepdims=True)
    posteriors = np.exp(log_joint - normaliser)
    return posteriors, float(normaliser.sum())
