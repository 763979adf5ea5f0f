"""BADGE (Ash et al., ICLR 2020): uncertainty and diversity in one batch, from gradient embeddings.

For a linear softmax head, the loss gradient at the model's own predicted label ``ŷ`` with
respect to the last layer is ``g(x) = (p(x) - e_ŷ) ⊗ x``: long where the model is unsure (``p``
far from one-hot), pointing where ``x`` lies. k-means++ seeding over these vectors picks items
that are uncertain and unlike each other at once, with no weight to trade the two. Since
``<g_i, g_j> = <a_i, a_j> <x_i, x_j>`` with ``a = p - e_ŷ``, the ``(n, k·d)`` embeddings are never
built: each new centre costs one pass over the pool. No Django here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.floating[Any]]
IndexArray = npt.NDArray[np.intp]


def _residuals(proba: FloatArray) -> FloatArray:
    """``p - e_ŷ`` per row, shape ``(n, k)``."""
    residual = np.array(proba, dtype=np.float64)
    residual[np.arange(residual.shape[0]), residual.argmax(axis=1)] -= 1.0
    return residual


def _squared_norms(X: Any) -> FloatArray:
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    dense = np.asarray(X, dtype=np.float64)
    norms: FloatArray = np.einsum("ij,ij->i", dense, dense)
    return norms


def _dots_with_row(X: Any, row: int) -> FloatArray:
    if sp.issparse(X):
        return np.asarray((X @ X[row].T).todense(), dtype=np.float64).ravel()
    return np.asarray(X @ X[row], dtype=np.float64)


def gradient_norms(proba: FloatArray, X: Any) -> FloatArray:
    """``|g(x)|²`` per pool row, shape ``(n,)``: uncertainty scaled by the row's length."""
    residual = _residuals(proba)
    norms: FloatArray = np.einsum("ij,ij->i", residual, residual) * _squared_norms(X)
    return norms


def badge_select(proba: FloatArray, X: Any, k: int, rng: np.random.Generator) -> IndexArray:
    """``k`` distinct rows of ``X`` (``(n, d)``, dense or sparse) by k-means++ seeding on
    gradient embeddings; ``proba`` (``(n, classes)``) are the model's pool probabilities.

    The first pick is the longest gradient; each next one is drawn with probability
    proportional to its squared distance from the nearest pick. Rows whose gradient equals a
    pick's (distance 0, e.g. a confident pool) are never drawn; if fewer than ``k`` rows are
    left at a positive distance, the longest remaining gradients fill the batch.
    """
    n = proba.shape[0]
    residual = _residuals(proba)
    norms = np.einsum("ij,ij->i", residual, residual) * _squared_norms(X)
    chosen = [int(np.argmax(norms))]
    nearest = np.full(n, np.inf)
    while len(chosen) < k:
        centre = chosen[-1]
        distance = (
            norms + norms[centre] - 2.0 * (residual @ residual[centre]) * _dots_with_row(X, centre)
        )
        nearest = np.minimum(nearest, np.maximum(distance, 0.0))
        nearest[chosen] = 0.0
        total = nearest.sum()
        if not np.isfinite(total) or total <= 0.0:
            break
        chosen.append(int(rng.choice(n, p=nearest / total)))
    if len(chosen) < k:
        taken = set(chosen)
        rest = [int(index) for index in np.argsort(-norms, kind="stable") if index not in taken]
        chosen.extend(rest[: k - len(chosen)])
    return np.asarray(chosen, dtype=np.intp)
