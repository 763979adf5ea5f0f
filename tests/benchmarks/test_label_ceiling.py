"""benchmarks/label_ceiling.py: per-vote agreement with the majority, exact weighted counts."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.label_ceiling import Votes, per_class_f1, vote_vs_majority, vote_vs_others


def _votes(rows: list[list[int]]) -> Votes:
    counts = np.asarray(rows, dtype=np.int64)
    return Votes(counts, counts.argmax(axis=1))


def test_unanimous_votes_agree_perfectly_both_ways():
    votes = _votes([[3, 0, 0], [0, 3, 0], [0, 0, 3]])

    assert per_class_f1(vote_vs_majority(votes)) == pytest.approx([1, 1, 1])
    confusion, tied = vote_vs_others(votes)
    assert per_class_f1(confusion) == pytest.approx([1, 1, 1])
    assert tied == 0


def test_a_dissenting_vote_counts_a_third_of_its_tweet():
    # Tweet 0: two say hate, one offensive; tweet 1: all offensive.
    votes = _votes([[2, 1, 0], [0, 3, 0]])

    confusion = vote_vs_majority(votes)

    # Reference hate: 2/3 predicted hate, 1/3 offensive; reference offensive: 1 offensive.
    assert confusion[0] == pytest.approx([2 / 3, 1 / 3, 0])
    assert confusion[1] == pytest.approx([0, 1, 0])


def test_leave_one_out_drops_votes_whose_others_tie():
    # Tweet 0 (hate, hate, offensive): each hate vote's others tie 1-1, so it is left out; the
    # offensive vote's others are both hate. Tweet 1 is unanimous.
    votes = _votes([[2, 1, 0], [0, 3, 0]])

    confusion, tied_share = vote_vs_others(votes)

    assert tied_share == pytest.approx((2 / 3) / 2)
    assert confusion[0] == pytest.approx([0, 1 / 3, 0])
    assert confusion[1] == pytest.approx([0, 1, 0])
    assert per_class_f1(confusion)[0] == 0
