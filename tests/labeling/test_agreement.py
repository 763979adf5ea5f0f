"""Agreement measures against scikit-learn, statsmodels, the krippendorff package and the
published worked examples (Fleiss 1971 as on Wikipedia; Krippendorff 2011)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss

from labeling.agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    rater_pair,
    ratings_from_rows,
)

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units, values 1..5, missing as NaN.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
# Fleiss' kappa worked example (Wikipedia "Fleiss' kappa"): 10 subjects, 14 raters, 5 categories.
FLEISS_EXAMPLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def _correlated_raters(rng, n_items, n_raters, k, agree=0.6):
    truth = rng.integers(0, k, n_items)
    keep = rng.random((n_raters, n_items)) < agree
    return np.where(keep, truth, rng.integers(0, k, (n_raters, n_items)))


# --- Cohen ------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_scikit_learn(weights, seed):
    rng = np.random.default_rng(seed)
    a, b = _correlated_raters(rng, 80, 2, 5)
    ours = cohen_kappa(list(a), list(b), weights=weights)
    assert ours.defined
    assert ours.n_items == 80
    assert ours.value == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-12)


def test_cohen_kappa_drops_items_one_rater_skipped():
    a = ["spam", "ham", None, "spam", "ham", "ham"]
    b = ["spam", "spam", "ham", None, "ham", "ham"]
    ours = cohen_kappa(a, b)
    reference = cohen_kappa_score(["spam", "ham", "ham", "ham"], ["spam", "spam", "ham", "ham"])
    assert ours.n_items == 4
    assert ours.value == pytest.approx(reference)


def test_cohen_kappa_weighted_follows_the_given_category_order():
    order = ["none", "mild", "severe"]
    a = ["none", "mild", "severe", "mild", "none", "severe"]
    b = ["mild", "mild", "severe", "none", "none", "mild"]
    ours = cohen_kappa(a, b, weights="linear", categories=order)
    codes = {label: index for index, label in enumerate(order)}
    reference = cohen_kappa_score(
        [codes[x] for x in a], [codes[x] for x in b], weights="linear", labels=[0, 1, 2]
    )
    assert ours.value == pytest.approx(reference)


def test_cohen_kappa_is_not_defined_without_expected_disagreement():
    result = cohen_kappa(["ok"] * 5, ["ok"] * 5)
    assert not result.defined
    assert result.value is None
    assert result.reason.startswith("not defined:")


def test_cohen_kappa_is_not_defined_without_a_shared_item():
    result = cohen_kappa(["ok", None], [None, "bad"])
    assert (result.defined, result.value, result.n_items) == (False, None, 0)


def test_cohen_kappa_rejects_values_outside_the_given_categories():
    with pytest.raises(ValueError, match="not among the categories"):
        cohen_kappa(["ok", "spam"], ["ok", "ok"], categories=["ok", "hate"])


def test_cohen_kappa_of_perfect_agreement_is_one():
    assert cohen_kappa([0, 1, 2, 1], [0, 1, 2, 1]).value == pytest.approx(1.0)


# --- Fleiss -----------------------------------------------------------------------------------


def test_fleiss_kappa_reproduces_the_published_worked_example():
    result = fleiss_kappa(FLEISS_EXAMPLE)
    assert result.defined
    assert (result.n_items, result.n_raters) == (10, 14)
    assert result.value == pytest.approx(0.210, abs=5e-4)
    assert result.value == pytest.approx(statsmodels_fleiss(FLEISS_EXAMPLE), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_kappa_matches_statsmodels_on_random_counts(seed):
    rng = np.random.default_rng(seed)
    ratings = _correlated_raters(rng, 60, 6, 4)
    counts = np.stack([np.bincount(column, minlength=4) for column in ratings.T])
    assert fleiss_kappa(counts).value == pytest.approx(statsmodels_fleiss(counts), abs=1e-12)


def test_fleiss_kappa_is_not_defined_when_items_have_different_numbers_of_raters():
    counts = np.array([[2, 1], [3, 0], [1, 1], [0, 3]])
    result = fleiss_kappa(counts)
    assert not result.defined
    assert result.value is None
    assert "different numbers of raters" in result.reason


def test_fleiss_kappa_modal_uses_only_items_with_the_most_common_rater_count():
    counts = np.array([[2, 1], [3, 0], [1, 1], [0, 3], [1, 2]])
    result = fleiss_kappa(counts, on_unequal="modal")
    kept = counts[counts.sum(axis=1) == 3]
    assert result.defined
    assert result.n_items == 4
    assert result.value == pytest.approx(statsmodels_fleiss(kept))
    assert "4 of 5 items" in result.reason


@pytest.mark.parametrize(
    "counts",
    [np.array([[1, 0], [0, 1]]), np.array([[3, 0], [3, 0]]), np.zeros((0, 3))],
    ids=["one-rater", "one-category", "no-items"],
)
def test_fleiss_kappa_is_not_defined_for_degenerate_inputs(counts):
    result = fleiss_kappa(counts)
    assert (result.defined, result.value) == (False, None)
    assert result.reason.startswith("not defined:")


# --- Krippendorff -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_alpha_reproduces_krippendorff_2011(level, published):
    result = krippendorff_alpha(KRIPPENDORFF_2011, level=level)
    assert result.defined
    assert result.value == pytest.approx(published, abs=5e-4)
    reference = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
    assert result.value == pytest.approx(reference, abs=1e-12)
    # Unit 12 holds a single value and is not pairable.
    assert (result.n_items, result.n_raters) == (11, 4)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", range(4))
def test_krippendorff_alpha_matches_the_package_with_missing_values(level, seed):
    rng = np.random.default_rng(seed)
    data = _correlated_raters(rng, 70, 5, 5).astype(float) + 1.0
    data[rng.random(data.shape) < 0.35] = np.nan
    ours = krippendorff_alpha(data, level=level)
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert ours.value == pytest.approx(reference, abs=1e-10)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (np.array([[1.0, 2.0, 1.0]]), "fewer than two raters"),
        (np.array([[1.0, NAN], [NAN, 2.0]]), "no unit has two or more values"),
        (np.array([[3.0, 3.0], [3.0, 3.0]]), "no expected disagreement"),
    ],
)
def test_krippendorff_alpha_is_not_defined_rather_than_a_number(data, why):
    result = krippendorff_alpha(data)
    assert (result.defined, result.value) == (False, None)
    assert result.reason.startswith(f"not defined: {why}")


# --- building inputs from decision rows --------------------------------------------------------


def test_ratings_from_rows_feeds_every_measure():
    rows = [
        ("item-1", "rita", "hate"),
        ("item-1", "oscar", "hate"),
        ("item-1", "sam", "ok"),
        ("item-2", "rita", "ok"),
        ("item-2", "oscar", "ok"),
        ("item-2", "sam", "ok"),
        ("item-3", "rita", "hate"),
        ("item-3", "oscar", "ok"),
        ("item-3", "sam", None),
    ]
    table = ratings_from_rows(rows)
    assert table.categories == ("hate", "ok")
    assert table.n_items == 3
    assert table.n_raters == 3
    np.testing.assert_array_equal(table.category_counts(), [[2, 1], [0, 3], [1, 1]])
    np.testing.assert_array_equal(table.reliability_data(), [[0, 1, 0], [0, 1, 1], [1, 1, NAN]])
    assert not fleiss_kappa(table.category_counts()).defined
    alpha = krippendorff_alpha(table.reliability_data())
    reference = krippendorff.alpha(
        reliability_data=table.reliability_data(), level_of_measurement="nominal"
    )
    assert alpha.value == pytest.approx(reference)
    a, b = rater_pair(table, "rita", "oscar")
    assert (a, b) == (["hate", "ok", "hate"], ["hate", "ok", "ok"])
    assert cohen_kappa(a, b, categories=table.categories).value == pytest.approx(
        cohen_kappa_score(a, b)
    )


def test_numeric_categories_keep_their_values_for_interval_alpha():
    rows = [(item, rater, value) for item, rater, value in [(1, "a", -3), (1, "b", 1), (2, "a", 0)]]
    rows += [(2, "b", 0)]
    table = ratings_from_rows(rows, categories=[-3, -2, -1, 0, 1])
    np.testing.assert_array_equal(table.reliability_data(), [[-3, 0], [1, 0]])


def test_ratings_from_rows_rejects_a_second_rating_by_the_same_rater():
    with pytest.raises(ValueError, match="more than once"):
        ratings_from_rows([("x", "rita", "ok"), ("x", "rita", "hate")])


def test_ratings_from_rows_rejects_values_outside_the_categories():
    with pytest.raises(ValueError, match="not among the categories"):
        ratings_from_rows([("x", "rita", "maybe")], categories=["ok", "hate"])
