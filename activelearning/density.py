"""How typical an item is of the pool: the input of information-density query strategies.

Uncertainty alone favours outliers (garbled text, one-off spam) that teach the model little
about the rest of the pool, and a weak early model finds many of them. Information density
(Settles & Craven, 2008) multiplies an item's uncertainty by its similarity to the pool, here
the cosine similarity to the nearest of ``clusters`` k-means centroids, which costs one
``MiniBatchKMeans`` per round instead of the ``n x n`` similarity matrix of the original. No
Django here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans

FloatArray = npt.NDArray[np.float64]

DENSITY_CLUSTERS = 50


def _row_norms(X: Any) -> FloatArray:
    if sp.issparse(X):
        squares = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
        return np.sqrt(squares)
    norms: FloatArray = np.linalg.norm(np.asarray(X, dtype=np.float64), axis=1)
    return norms


def pool_density(
    X_pool: Any, rng: np.random.Generator, clusters: int = DENSITY_CLUSTERS
) -> FloatArray:
    """Per item of ``X_pool`` ``(n, d)`` (dense or sparse): cosine similarity to the nearest
    k-means centroid, clipped to ``[0, 1]``; shape ``(n,)``.

    With fewer items than ``clusters`` every item is its own cluster: density 1 for all.
    Centroids that almost no item chose (fewer than ``_min_cluster_size``) are left out: k-means
    seeding is drawn to far points, and a centroid sitting on one outlier would call it dense.
    """
    n = X_pool.shape[0]
    if n <= clusters:
        return np.ones(n)
    kmeans = MiniBatchKMeans(
        n_clusters=clusters,
        random_state=int(rng.integers(2**31 - 1)),
        n_init=1,
        batch_size=min(2048, n),
    ).fit(X_pool)
    # labels_ covers the whole pool (compute_labels=True), so no second assignment pass.
    sizes = np.bincount(kmeans.labels_, minlength=clusters)
    kept = sizes >= _min_cluster_size(n, clusters)
    centroids = np.asarray(kmeans.cluster_centers_, dtype=np.float64)[kept]
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    similarity = np.asarray(X_pool @ centroids.T, dtype=np.float64)
    cosine = similarity.max(axis=1) / np.maximum(_row_norms(X_pool), 1e-12)
    density: FloatArray = np.clip(cosine, 0.0, 1.0)
    return density


def _min_cluster_size(n: int, clusters: int) -> int:
    """A twentieth of the mean cluster size, at least 2: drops centroids of a lone outlier or a
    handful of them, keeps any cluster a rare class could fill."""
    return max(2, n // (clusters * 20))


def density_weighted(
    uncertainty: npt.NDArray[np.floating[Any]], density: FloatArray, beta: float
) -> FloatArray:
    """``u' * density ** beta`` where ``u'`` is ``uncertainty`` min-max scaled over the pool.

    Shapes ``(n,)``. The scaling matters: a weak early model is unsure of everything (raw
    margins all near 1), and unscaled, density would then decide alone; scaled, the least
    uncertain item scores 0 whatever its density. ``beta`` 0 is plain uncertainty ranking.
    """
    values = np.asarray(uncertainty, dtype=np.float64)
    spread = float(values.max() - values.min()) if values.size else 0.0
    scaled = (values - values.min()) / spread if spread > 0 else np.ones_like(values)
    weighted: FloatArray = scaled * np.power(density, beta)
    return weighted
