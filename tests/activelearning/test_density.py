"""Information density: typical items score high, outliers low, and the weighting keeps order."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from activelearning.density import density_weighted, pool_density


def _pool_with_outliers(rng: np.random.Generator):
    # Two tight groups of 300 near two directions, plus 5 points in directions nobody shares.
    centres = np.eye(16)[:2]
    groups = [centre + 0.05 * rng.normal(size=(300, 16)) for centre in centres]
    outliers = rng.normal(size=(5, 16))
    return np.vstack([*groups, outliers])


def test_typical_items_are_denser_than_outliers():
    X = _pool_with_outliers(np.random.default_rng(0))
    density = pool_density(X, np.random.default_rng(1), clusters=4)
    assert density.shape == (605,)
    assert density.min() >= 0.0 and density.max() <= 1.0
    assert density[:600].min() > density[600:].max()


def test_a_lone_outlier_does_not_keep_a_centroid_of_its_own():
    rng = np.random.default_rng(0)
    X = np.vstack([np.eye(8)[0] + 0.1 * rng.normal(size=(400, 8)), 50 * np.eye(8)[5]])
    # Far and alone, the outlier is a likely k-means seed; its centroid must not make it dense.
    for seed in range(5):
        density = pool_density(X, np.random.default_rng(seed), clusters=20)
        assert density[-1] < 0.2 < density[:400].min()


def test_sparse_and_dense_pools_agree():
    X = _pool_with_outliers(np.random.default_rng(0))
    X[np.abs(X) < 0.03] = 0.0
    dense = pool_density(X, np.random.default_rng(3), clusters=4)
    sparse = pool_density(sp.csr_matrix(X), np.random.default_rng(3), clusters=4)
    np.testing.assert_allclose(sparse, dense, atol=1e-6)


def test_a_pool_smaller_than_the_clusters_is_uniformly_dense():
    X = np.random.default_rng(0).normal(size=(7, 4))
    np.testing.assert_array_equal(pool_density(X, np.random.default_rng(0), clusters=50), 1.0)


def test_density_weighting_demotes_uncertain_outliers():
    uncertainty = np.array([0.9, 0.8, 0.1])
    density = np.array([0.2, 1.0, 1.0])
    weighted = density_weighted(uncertainty, density, beta=3.0)
    assert np.argmax(weighted) == 1  # the outlier (density 0.2) loses its lead
    assert weighted[2] == 0.0  # the least uncertain item scores 0 whatever its density
    # beta 0 keeps the uncertainty order.
    plain = density_weighted(uncertainty, density, beta=0.0)
    np.testing.assert_array_equal(np.argsort(plain), np.argsort(uncertainty))


def test_equal_uncertainty_leaves_density_to_decide():
    weighted = density_weighted(np.full(3, 0.5), np.array([0.3, 0.9, 0.6]), beta=1.0)
    np.testing.assert_allclose(weighted, [0.3, 0.9, 0.6])
