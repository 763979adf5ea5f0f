"""Cold start: the first items to label before any model exists. No Django here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from activelearning.strategies import FloatArray, IndexArray, StrategyError, top_k


def seed_by_keywords(texts: Sequence[str], keywords: Sequence[str], k: int) -> IndexArray:
    """Up to ``k`` indices of ``texts`` matching the most distinct ``keywords`` (case-insensitive).

    For a cold start with no model: items that contain more of the policy's keywords come
    first; ties keep the input order. Items matching no keyword are never returned.
    """
    if k < 1:
        raise StrategyError(f"k must be at least 1, got {k}")
    needles = [keyword.casefold() for keyword in keywords if keyword.strip()]
    if not needles:
        raise StrategyError("seed_by_keywords needs at least one non-empty keyword")
    hits = np.array(
        [sum(needle in text.casefold() for needle in needles) for text in texts], dtype=np.intp
    )
    matching = np.flatnonzero(hits > 0)
    ranked = matching[np.argsort(-hits[matching], kind="stable")]
    return np.asarray(ranked[:k], dtype=np.intp)


def nearest_neighbours(X: FloatArray, query_vector: FloatArray, k: int) -> IndexArray:
    """ "More like this": indices of the ``k`` rows of ``X`` (``(n, d)``) closest in cosine.

    ``query_vector``: shape ``(d,)``. Returns shape ``(min(k, n),)``, nearest first.
    """
    if k < 1:
        raise StrategyError(f"k must be at least 1, got {k}")
    matrix = np.asarray(X, dtype=np.float64)
    query = np.asarray(query_vector, dtype=np.float64).ravel()
    if matrix.ndim != 2 or query.shape[0] != matrix.shape[1]:
        raise StrategyError(f"query has {query.shape[0]} dimensions, X has shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
    similarity = (matrix @ query) / np.where(norms == 0, 1.0, norms)
    return top_k(similarity, min(k, len(matrix)))
