"""How well one Davidson annotator agrees with the majority label: a ceiling for per-class F1.

    python -m benchmarks.label_ceiling --out benchmarks/results/label_ceiling_davidson.json

Davidson et al. 2017 release, per tweet, how many CrowdFlower annotators chose each class and the
majority ``class`` the models are scored against. Each annotator's vote is compared, as if it were
a prediction, with

- the released majority label, which includes that vote itself (an optimistic ceiling: a model
  that predicted like one annotator would score this);
- the majority of the *other* annotators on that tweet (leave-one-out), skipping tweets where the
  others tie.

Every vote counts ``1 / annotators`` so each tweet weighs the same. No sampling: the weighted
confusion matrices are exact. The model's own numbers (``text_model_davidson.json``) are read in
for comparison when present.
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.datasets import REPO_ROOT, datasets_root

CLASSES = ("hate", "offensive", "neither")
VOTE_COLUMNS = ("hate_speech", "offensive_language", "neither")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Votes:
    """``counts[i, c]``: annotators who chose class ``c`` for tweet ``i``; ``majority[i]``."""

    counts: npt.NDArray[np.int64]
    majority: npt.NDArray[np.int64]


def load_votes(path: Path) -> Votes:
    counts: list[list[int]] = []
    majority: list[int] = []
    with path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            counts.append([int(row[column]) for column in VOTE_COLUMNS])
            majority.append(int(row["class"]))
    return Votes(np.asarray(counts, dtype=np.int64), np.asarray(majority, dtype=np.int64))


def per_class_f1(confusion: FloatArray) -> FloatArray:
    """F1 per class from a (reference x predicted) confusion matrix of weights."""
    true_positive = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    denominator = predicted + actual
    return np.divide(
        2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0
    )


def vote_vs_majority(votes: Votes) -> FloatArray:
    """Each vote against the released majority (which counts that vote too)."""
    n_classes = votes.counts.shape[1]
    confusion = np.zeros((n_classes, n_classes))
    weights = votes.counts / votes.counts.sum(axis=1, keepdims=True)
    np.add.at(confusion, votes.majority, weights)
    return confusion


def vote_vs_others(votes: Votes) -> tuple[FloatArray, float]:
    """Each vote against the majority of the tweet's other votes; also the share of votes whose
    other annotators tied (left out)."""
    n_classes = votes.counts.shape[1]
    confusion = np.zeros((n_classes, n_classes))
    totals = votes.counts.sum(axis=1)
    tied_weight = 0.0
    for chosen in range(n_classes):
        has_vote = votes.counts[:, chosen] > 0
        others = votes.counts[has_vote].copy()
        others[:, chosen] -= 1
        weight = votes.counts[has_vote, chosen] / totals[has_vote]
        top = others.max(axis=1)
        unique_top = (others == top[:, None]).sum(axis=1) == 1
        usable = unique_top & (others.sum(axis=1) > 0)
        tied_weight += float(weight[~usable].sum())
        np.add.at(confusion[:, chosen], others[usable].argmax(axis=1), weight[usable])
    return confusion, tied_weight / len(totals)


def summary(confusion: FloatArray) -> dict[str, Any]:
    f1 = per_class_f1(confusion)
    return {
        "macro_f1": round(float(f1.mean()), 4),
        "f1": {name: round(float(value), 4) for name, value in zip(CLASSES, f1, strict=True)},
    }


def model_numbers() -> dict[str, Any] | None:
    path = REPO_ROOT / "benchmarks" / "results" / "text_model_davidson.json"
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    default = result.get("configs", {}).get("fusion/default", {}).get("summary", {})
    return {
        "source": str(path.relative_to(REPO_ROOT)),
        "macro_f1": default.get("macro_f1"),
        "hate_f1": default.get("hate_f1"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/label_ceiling_davidson.json")
    )
    args = parser.parse_args()
    path = datasets_root() / "davidson2017" / "labeled_data.csv"
    votes = load_votes(path)
    loo_confusion, tied_share = vote_vs_others(votes)
    annotators = votes.counts.sum(axis=1)
    result = {
        "benchmark": "label_ceiling",
        "dataset": "davidson2017",
        "tweets": len(votes.majority),
        "annotators_per_tweet": {
            "min": int(annotators.min()),
            "median": float(np.median(annotators)),
            "max": int(annotators.max()),
        },
        "unanimous_share": round(float((votes.counts.max(axis=1) == annotators).mean()), 4),
        "unanimous_share_of_hate_majority": round(
            float((votes.counts[votes.majority == 0, 0] == annotators[votes.majority == 0]).mean()),
            4,
        ),
        "one_vote_vs_majority_including_it": summary(vote_vs_majority(votes)),
        "one_vote_vs_majority_of_others": {
            **summary(loo_confusion),
            "votes_left_out_for_ties_share": round(tied_share, 4),
        },
        "model": model_numbers(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: value for key, value in result.items() if key != "model"}, indent=2))


if __name__ == "__main__":
    main()
