"""Pure consensus rules over verdict values (no database)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Majority:
    value: str | None
    agreement: float
    tie: bool


def majority(values: Sequence[str]) -> Majority:
    """The most common value, the share of votes it got, and whether the top is tied.

    A tie returns ``value=None`` so that nobody can mistake an arbitrary pick for consensus.
    """
    if not values:
        return Majority(value=None, agreement=0.0, tie=False)
    counts = Counter(values).most_common()
    top_value, top_count = counts[0]
    tie = len(counts) > 1 and counts[1][1] == top_count
    return Majority(value=None if tie else top_value, agreement=top_count / len(values), tie=tie)
