"""Cold start: keyword seeds and "more like this"."""

from __future__ import annotations

import numpy as np
import pytest

from activelearning.cold_start import nearest_neighbours, seed_by_keywords
from activelearning.strategies import StrategyError


def test_seed_by_keywords_ranks_by_distinct_matches():
    texts = ["nothing here", "you IDIOT", "idiot and moron", "moron", "fine"]
    assert seed_by_keywords(texts, ["idiot", "moron"], 10).tolist() == [2, 1, 3]
    assert seed_by_keywords(texts, ["idiot", "moron"], 1).tolist() == [2]
    with pytest.raises(StrategyError):
        seed_by_keywords(texts, ["  "], 3)


def test_nearest_neighbours_finds_the_most_similar_rows():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [-1.0, 0.0]])
    assert nearest_neighbours(X, np.array([1.0, 0.0]), 2).tolist() == [0, 2]
    with pytest.raises(StrategyError, match="dimensions"):
        nearest_neighbours(X, np.array([1.0, 0.0, 0.0]), 2)
