"""Inter-rater agreement: Cohen's kappa, Fleiss' kappa and Krippendorff's alpha (pure, no Django).

Every measure returns an :class:`Agreement`. Where a measure has no value (fewer than two raters,
nothing to pair, or no expected disagreement because everybody used one category) it says so with
``defined=False``, ``value=None`` and a reason starting with "not defined:", never a number that
could be mistaken for agreement.

Inputs are built from decision rows ``(item_id, rater_id, value)`` with :func:`ratings_from_rows`;
the resulting :class:`RatingTable` is sparse (one entry per rating), so it also feeds
:mod:`labeling.aggregation`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

KappaWeights = Literal["linear", "quadratic"] | None
Level = Literal["nominal", "ordinal", "interval", "ratio"]
Unequal = Literal["undefined", "modal"]


@dataclass(frozen=True)
class Agreement:
    """One agreement figure. ``value`` is None exactly when ``defined`` is False."""

    value: float | None
    n_items: int
    n_raters: int
    defined: bool
    reason: str


def _undefined(reason: str, *, n_items: int, n_raters: int) -> Agreement:
    return Agreement(
        value=None,
        n_items=n_items,
        n_raters=n_raters,
        defined=False,
        reason=f"not defined: {reason}",
    )


@dataclass(frozen=True)
class RatingTable:
    """Ratings as parallel arrays, one entry per (item, rater) pair that has a value.

    ``item_index`` (m,), ``rater_index`` (m,) and ``codes`` (m,) index into ``items``,
    ``raters`` and ``categories``. Categories are ordered (their order is the scale for ordinal
    measures and for weighted kappa).
    """

    items: tuple[Hashable, ...]
    raters: tuple[Hashable, ...]
    categories: tuple[Hashable, ...]
    item_index: IntArray
    rater_index: IntArray
    codes: IntArray

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_raters(self) -> int:
        return len(self.raters)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    def code_matrix(self) -> IntArray:
        """Dense (n_raters, n_items) matrix of category codes, -1 where a rater gave no value."""
        matrix = np.full((self.n_raters, self.n_items), -1, dtype=np.int64)
        matrix[self.rater_index, self.item_index] = self.codes
        return matrix

    def reliability_data(self) -> FloatArray:
        """Dense (n_raters, n_items) values for :func:`krippendorff_alpha`, NaN where missing.

        Numeric categories keep their values (interval and ratio need them); any other category
        becomes its position in ``categories``.
        """
        if all(_is_number(category) for category in self.categories):
            scale = np.array(self.categories, dtype=np.float64)
        else:
            scale = np.arange(self.n_categories, dtype=np.float64)
        data = np.full((self.n_raters, self.n_items), np.nan)
        data[self.rater_index, self.item_index] = scale[self.codes]
        return data

    def category_counts(self) -> IntArray:
        """(n_items, n_categories) number of raters who chose each category, for Fleiss."""
        counts = np.zeros((self.n_items, self.n_categories), dtype=np.int64)
        np.add.at(counts, (self.item_index, self.codes), 1)
        return counts


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def ratings_from_rows(
    rows: Iterable[tuple[Hashable, Hashable, Hashable]],
    *,
    categories: Sequence[Hashable] | None = None,
) -> RatingTable:
    """Build a :class:`RatingTable` from ``(item_id, rater_id, value)`` rows.

    ``categories`` fixes the category set and its order (a category nobody used still counts
    for Dawid-Skene); by default it is the sorted set of values seen. A ``None`` value is a
    missing rating and is skipped. One rater may rate one item once: a second row for the same
    pair raises ``ValueError`` (pass effective decisions, after undo, not the raw log).
    """
    item_ids: dict[Hashable, int] = {}
    rater_ids: dict[Hashable, int] = {}
    triples: list[tuple[int, int, Hashable]] = []
    seen: set[tuple[int, int]] = set()
    for item_id, rater_id, value in rows:
        item = item_ids.setdefault(item_id, len(item_ids))
        if value is None:
            continue
        rater = rater_ids.setdefault(rater_id, len(rater_ids))
        if (item, rater) in seen:
            raise ValueError(f"rater {rater_id!r} rated item {item_id!r} more than once")
        seen.add((item, rater))
        triples.append((item, rater, value))

    if categories is None:
        observed = {value for _, _, value in triples}
        try:
            ordered = sorted(observed)  # type: ignore[type-var]
        except TypeError as error:
            raise ValueError("values cannot be ordered; pass categories explicitly") from error
        category_list: list[Hashable] = list(ordered)
    else:
        category_list = list(categories)
        if len(set(category_list)) != len(category_list):
            raise ValueError("categories must be distinct")
    position = {category: index for index, category in enumerate(category_list)}
    unknown = {value for _, _, value in triples if value not in position}
    if unknown:
        raise ValueError(f"values not among the categories: {sorted(map(repr, unknown))}")

    return RatingTable(
        items=tuple(item_ids),
        raters=tuple(rater_ids),
        categories=tuple(category_list),
        item_index=np.array([t[0] for t in triples], dtype=np.int64),
        rater_index=np.array([t[1] for t in triples], dtype=np.int64),
        codes=np.array([position[t[2]] for t in triples], dtype=np.int64),
    )


# --- Cohen's kappa -----------------------------------------------------------------------------


def cohen_kappa(
    rater_a: Sequence[Hashable | None],
    rater_b: Sequence[Hashable | None],
    *,
    weights: KappaWeights = None,
    categories: Sequence[Hashable] | None = None,
) -> Agreement:
    """Cohen's kappa of two raters over the same items (position i = item i).

    Items where either rater gave ``None`` are left out. ``weights`` "linear" or "quadratic"
    give weighted kappa for ordinal categories, with disagreement |i - j| or (i - j)^2 between
    category positions in ``categories`` (default: the sorted values seen), as scikit-learn does.
    """
    if len(rater_a) != len(rater_b):
        raise ValueError("both raters must cover the same items")
    pairs = [
        (a, b) for a, b in zip(rater_a, rater_b, strict=True) if a is not None and b is not None
    ]
    if not pairs:
        return _undefined("no item rated by both raters", n_items=0, n_raters=2)
    if categories is None:
        categories = sorted({value for pair in pairs for value in pair})  # type: ignore[type-var]
    position = {category: index for index, category in enumerate(categories)}
    unknown = {value for pair in pairs for value in pair if value not in position}
    if unknown:
        raise ValueError(f"values not among the categories: {sorted(map(repr, unknown))}")
    k = len(position)
    observed = np.zeros((k, k))
    for a, b in pairs:
        observed[position[a], position[b]] += 1
    n = len(pairs)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n

    index = np.arange(k)
    if weights is None:
        disagreement = (index[:, None] != index[None, :]).astype(np.float64)
    elif weights == "linear":
        disagreement = np.abs(index[:, None] - index[None, :]).astype(np.float64)
    elif weights == "quadratic":
        disagreement = ((index[:, None] - index[None, :]) ** 2).astype(np.float64)
    else:
        raise ValueError(f"unknown weights {weights!r}")

    expected_disagreement = float((disagreement * expected).sum())
    if expected_disagreement == 0.0:
        return _undefined(
            "no expected disagreement (both raters used a single category)", n_items=n, n_raters=2
        )
    value = 1.0 - float((disagreement * observed).sum()) / expected_disagreement
    kind = "unweighted" if weights is None else f"{weights}-weighted"
    return Agreement(
        value=value, n_items=n, n_raters=2, defined=True, reason=f"Cohen's kappa, {kind}"
    )


# --- Fleiss' kappa -----------------------------------------------------------------------------


def fleiss_kappa(counts: npt.ArrayLike, *, on_unequal: Unequal = "undefined") -> Agreement:
    """Fleiss' kappa from an (n_items, n_categories) matrix of rater counts per category.

    Fleiss (1971) assumes the same number of raters n on every item. When the row totals differ,
    ``on_unequal="undefined"`` (default) returns not defined; ``on_unequal="modal"`` keeps only
    the items rated by the most common number of raters (the larger one on a tie) and says how
    many items it used. Items with no rating at all are ignored either way.
    """
    matrix = np.asarray(counts, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("counts must be a 2-D (items, categories) matrix")
    if (matrix < 0).any():
        raise ValueError("counts must be non-negative")
    totals = matrix.sum(axis=1)
    matrix, totals = matrix[totals > 0], totals[totals > 0]
    note = ""
    if matrix.shape[0] and np.unique(totals).size > 1:
        if on_unequal == "undefined":
            return _undefined(
                "items have different numbers of raters (Fleiss needs the same n on every item)",
                n_items=int(matrix.shape[0]),
                n_raters=int(totals.max()),
            )
        values, frequencies = np.unique(totals, return_counts=True)
        modal = values[frequencies == frequencies.max()].max()
        keep = totals == modal
        note = f"; used the {int(keep.sum())} of {matrix.shape[0]} items with {int(modal)} raters"
        matrix, totals = matrix[keep], totals[keep]

    n_items = int(matrix.shape[0])
    if n_items == 0:
        return _undefined("no rated items", n_items=0, n_raters=0)
    n = float(totals[0])
    if n < 2:
        return _undefined("fewer than two raters per item", n_items=n_items, n_raters=int(n))
    shares = matrix.sum(axis=0) / (n_items * n)
    expected = float((shares**2).sum())
    if expected >= 1.0:
        return _undefined(
            "no expected disagreement (every rating is in one category)",
            n_items=n_items,
            n_raters=int(n),
        )
    per_item = ((matrix**2).sum(axis=1) - n) / (n * (n - 1))
    value = (float(per_item.mean()) - expected) / (1.0 - expected)
    return Agreement(
        value=value,
        n_items=n_items,
        n_raters=int(n),
        defined=True,
        reason=f"Fleiss' kappa{note}",
    )


# --- Krippendorff's alpha ----------------------------------------------------------------------


def krippendorff_alpha(reliability_data: npt.ArrayLike, *, level: Level = "nominal") -> Agreement:
    """Krippendorff's alpha from (n_raters, n_items) values with NaN for missing.

    Computed through the coincidence matrix as in Krippendorff (2011), "Computing Krippendorff's
    Alpha-Reliability": units with fewer than two values are not pairable and drop out; each
    pairable unit u with m_u values adds its value pairs with weight 1 / (m_u - 1); then
    alpha = 1 - (n - 1) * sum(o_ck * d_ck) / sum(n_c * n_k * d_ck) with the difference function
    d of the level (nominal, ordinal, interval, ratio). Ordinal differences use the marginal
    frequencies of the values seen, ordered numerically.
    """
    data = np.asarray(reliability_data, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError("reliability data must be a 2-D (raters, items) matrix")
    present = ~np.isnan(data)
    n_raters = int(present.any(axis=1).sum())
    if n_raters < 2:
        return _undefined("fewer than two raters", n_items=data.shape[1], n_raters=n_raters)

    values, codes = np.unique(data[present], return_inverse=True)
    unit_of_value = np.nonzero(present)[1]
    unit_counts = np.zeros((data.shape[1], values.size))
    np.add.at(unit_counts, (unit_of_value, codes), 1.0)
    per_unit = unit_counts.sum(axis=1)
    pairable = per_unit >= 2
    unit_counts, per_unit = unit_counts[pairable], per_unit[pairable]
    n_items = int(pairable.sum())
    if n_items == 0:
        return _undefined("no unit has two or more values", n_items=0, n_raters=n_raters)

    weighted = unit_counts / (per_unit - 1.0)[:, None]
    coincidence = weighted.T @ unit_counts - np.diag(weighted.sum(axis=0))
    marginals = coincidence.sum(axis=1)
    total = float(marginals.sum())
    difference = _difference(values, marginals, level)
    expected = float((np.outer(marginals, marginals) * difference).sum())
    if expected == 0.0:
        return _undefined(
            "no expected disagreement (only one value was used)",
            n_items=n_items,
            n_raters=n_raters,
        )
    observed = float((coincidence * difference).sum())
    value = 1.0 - (total - 1.0) * observed / expected
    return Agreement(
        value=value,
        n_items=n_items,
        n_raters=n_raters,
        defined=True,
        reason=f"Krippendorff's alpha, {level}",
    )


def _difference(values: FloatArray, marginals: FloatArray, level: Level) -> FloatArray:
    """Squared difference d_ck between every two values, per level of measurement."""
    left, right = values[:, None], values[None, :]
    if level == "nominal":
        return np.asarray(left != right, dtype=np.float64)
    if level == "interval":
        return np.asarray((left - right) ** 2, dtype=np.float64)
    if level == "ratio":
        sums = left + right
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(sums == 0, 0.0, (left - right) / sums)
        return np.asarray(ratio**2, dtype=np.float64)
    if level == "ordinal":
        cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
        low = np.minimum.outer(np.arange(values.size), np.arange(values.size))
        high = np.maximum.outer(np.arange(values.size), np.arange(values.size))
        between = cumulative[high + 1] - cumulative[low]
        return np.asarray(
            (between - (marginals[low] + marginals[high]) / 2.0) ** 2, dtype=np.float64
        )
    raise ValueError(f"unknown level {level!r}")


def rater_pair(
    table: RatingTable, rater_a: Hashable, rater_b: Hashable
) -> tuple[list[Hashable | None], list[Hashable | None]]:
    """The two raters' values over every item of the table (None where one gave none).

    Feed the result to :func:`cohen_kappa` with ``categories=table.categories``.
    """
    matrix = table.code_matrix()
    rows = (table.raters.index(rater_a), table.raters.index(rater_b))
    a, b = ([None if code < 0 else table.categories[code] for code in matrix[r]] for r in rows)
    return a, b
