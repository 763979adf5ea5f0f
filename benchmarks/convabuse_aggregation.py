"""Aggregating ConvAbuse's per-annotator ratings: Dawid-Skene vs majority vote vs one annotator.

Scored against the released binary ``hard_label`` (abusive or not) of ConvAbuse (Curry et al.,
EMNLP 2021, as released for SemEval-2023 Task 11), per split and overall, plus the agreement
between annotators (Krippendorff's alpha, Fleiss' kappa where defined).

python -m benchmarks.convabuse_aggregation --out benchmarks/results/convabuse_aggregation.json

The encoding, checked against the files (and recorded in the JSON): each annotator gives one
severity, ``1`` not abusive, ``0`` ambiguous, ``-1`` mildly, ``-2`` strongly, ``-3`` very
strongly abusive (ConvAbuse_original_README.md, columns ``is_abuse.*``). Abusive = severity < 0:
``soft_label["1"]`` equals the share of an item's severities below 0 on every item, so
"ambiguous" (0) counts as not abusive.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from benchmarks.datasets import datasets_root
from labeling.aggregation import dawid_skene, majority_vote
from labeling.agreement import (
    Agreement,
    RatingTable,
    fleiss_kappa,
    krippendorff_alpha,
    ratings_from_rows,
)

SPLITS = ("train", "dev", "test")
SEVERITIES = (-3, -2, -1, 0, 1)
NOT_ABUSIVE, ABUSIVE = 0, 1
DS_MAX_ITER = 500


@dataclass(frozen=True)
class ConvAbuseItem:
    key: str  # "<split>/<id>"
    split: str
    annotators: tuple[str, ...]
    severities: tuple[int, ...]
    hard_label: int
    hard_label_raw_type: str
    soft_abusive: float


def is_abusive(severity: int) -> int:
    """The binary mapping used throughout: severity below 0 (mild, strong, very strong)."""
    return ABUSIVE if severity < 0 else NOT_ABUSIVE


def load_convabuse(root: Path) -> list[ConvAbuseItem]:
    items = []
    for split in SPLITS:
        path = root / "convabuse" / f"ConvAbuse_{split}.json"
        with path.open(encoding="utf-8") as stream:
            data = json.load(stream)
        for key, record in data.items():
            annotators = tuple(record["annotators"].split(","))
            severities = tuple(int(value) for value in record["annotations"].split(","))
            if len(annotators) != len(severities):
                raise ValueError(f"{split}/{key}: annotators and annotations differ in length")
            items.append(
                ConvAbuseItem(
                    key=f"{split}/{key}",
                    split=split,
                    annotators=annotators,
                    severities=severities,
                    # Mixed "0"/"1" strings and 0/1 integers in the release.
                    hard_label=int(record["hard_label"]),
                    hard_label_raw_type=type(record["hard_label"]).__name__,
                    soft_abusive=float(record["soft_label"]["1"]),
                )
            )
    return items


def encoding_checks(items: list[ConvAbuseItem]) -> dict[str, Any]:
    """Evidence for the mapping and for how the released hard labels were made."""
    soft_mismatch = 0
    hard_vs_majority = Counter[str]()
    tie_breaks = Counter[str]()
    for item in items:
        binary = [is_abusive(s) for s in item.severities]
        share = sum(binary) / len(binary)
        # soft_label is rounded to 3 decimals in the release.
        soft_mismatch += abs(share - item.soft_abusive) > 1e-3
        if share == 0.5:
            mean = float(np.mean(item.severities))
            sign = "mean<0" if mean < 0 else ("mean=0" if mean == 0 else "mean>0")
            tie_breaks[f"{sign} -> hard_label {item.hard_label}"] += 1
        else:
            agrees = (share > 0.5) == (item.hard_label == ABUSIVE)
            hard_vs_majority["agrees" if agrees else "disagrees"] += 1
    return {
        "items_where_soft_label_differs_from_share_of_severity_below_0": soft_mismatch,
        "non_tied_items_hard_label_vs_binary_majority": dict(hard_vs_majority),
        "tied_items_hard_label_by_mean_severity": dict(sorted(tie_breaks.items())),
        "hard_label_raw_types_by_split": {
            split: dict(Counter(i.hard_label_raw_type for i in items if i.split == split))
            for split in SPLITS
        },
    }


def scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", labels=[0, 1])),
        "f1_abusive": float(f1_score(truth, predicted, pos_label=ABUSIVE, zero_division=0)),
    }


def mean_scores(runs: list[dict[str, float]]) -> dict[str, float]:
    summary: dict[str, float] = {}
    for metric in runs[0]:
        values = np.array([run[metric] for run in runs])
        summary[metric] = float(values.mean())
        summary[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return summary


def _agreement_json(agreement: Agreement) -> dict[str, Any]:
    return {
        "value": agreement.value,
        "defined": agreement.defined,
        "n_items": agreement.n_items,
        "n_raters": agreement.n_raters,
        "reason": agreement.reason,
    }


def agreement_figures(binary: RatingTable, severity: RatingTable) -> dict[str, Any]:
    reference = {
        level: float(
            krippendorff.alpha(
                reliability_data=severity.reliability_data(), level_of_measurement=level
            )
        )
        for level in ("nominal", "ordinal", "interval")
    }
    reference["nominal_binary"] = float(
        krippendorff.alpha(
            reliability_data=binary.reliability_data(), level_of_measurement="nominal"
        )
    )
    return {
        "krippendorff_package_cross_check": reference,
        "krippendorff_alpha_nominal_binary": _agreement_json(
            krippendorff_alpha(binary.reliability_data(), level="nominal")
        ),
        "krippendorff_alpha_nominal_severity": _agreement_json(
            krippendorff_alpha(severity.reliability_data(), level="nominal")
        ),
        "krippendorff_alpha_ordinal_severity": _agreement_json(
            krippendorff_alpha(severity.reliability_data(), level="ordinal")
        ),
        "krippendorff_alpha_interval_severity": _agreement_json(
            krippendorff_alpha(severity.reliability_data(), level="interval")
        ),
        "fleiss_kappa_binary": _agreement_json(fleiss_kappa(binary.category_counts())),
        "fleiss_kappa_binary_modal_rater_count": _agreement_json(
            fleiss_kappa(binary.category_counts(), on_unequal="modal")
        ),
        "fleiss_kappa_severity_modal_rater_count": _agreement_json(
            fleiss_kappa(severity.category_counts(), on_unequal="modal")
        ),
    }


def tables(items: list[ConvAbuseItem]) -> tuple[RatingTable, RatingTable]:
    binary_rows = [
        (item.key, annotator, is_abusive(severity))
        for item in items
        for annotator, severity in zip(item.annotators, item.severities, strict=True)
    ]
    severity_rows = [
        (item.key, annotator, severity)
        for item in items
        for annotator, severity in zip(item.annotators, item.severities, strict=True)
    ]
    binary = ratings_from_rows(binary_rows, categories=[NOT_ABUSIVE, ABUSIVE])
    severity = ratings_from_rows(severity_rows, categories=list(SEVERITIES))
    return binary, severity


def predictions(
    items: list[ConvAbuseItem], binary: RatingTable, severity: RatingTable, *, seeds: list[int]
) -> tuple[dict[str, np.ndarray], dict[str, list[np.ndarray]], dict[str, Any]]:
    """Fixed predictions per method, seeded ones (one array per seed), and model details."""
    majority = majority_vote(binary)
    ds_binary = dawid_skene(binary, max_iter=DS_MAX_ITER)
    ds_severity = dawid_skene(severity, max_iter=DS_MAX_ITER)
    mean_severity = np.array([np.mean(item.severities) for item in items])
    abusive_columns = [index for index, value in enumerate(SEVERITIES) if value < 0]
    p_abusive = ds_severity.posteriors[:, abusive_columns].sum(axis=1)

    fixed = {
        "majority_ties_as_abusive": np.where(majority.tie, ABUSIVE, majority.labels),
        "majority_ties_as_not_abusive": np.where(majority.tie, NOT_ABUSIVE, majority.labels),
        "majority_ties_by_mean_severity_below_0": np.where(
            majority.tie, (mean_severity < 0).astype(int), majority.labels
        ),
        "dawid_skene_binary": ds_binary.labels,
        "dawid_skene_severity_then_p_abusive_over_0.5": (p_abusive > 0.5).astype(int),
    }
    seeded: dict[str, list[np.ndarray]] = {
        "majority_ties_random": [],
        "single_random_annotator": [],
    }
    for seed in seeds:
        rng = np.random.default_rng(seed)
        coin = rng.integers(0, 2, binary.n_items)
        seeded["majority_ties_random"].append(np.where(majority.tie, coin, majority.labels))
        seeded["single_random_annotator"].append(
            np.array([is_abusive(rng.choice(item.severities)) for item in items])
        )

    raters = [str(rater) for rater in binary.raters]
    details = {
        "majority_ties": int(majority.tie.sum()),
        "dawid_skene_binary": {
            "n_iter": ds_binary.n_iter,
            "converged": ds_binary.converged,
            "class_priors": ds_binary.class_priors.round(4).tolist(),
            "per_annotator": {
                annotator: {
                    "sensitivity": round(float(ds_binary.confusion[index, 1, 1]), 4),
                    "specificity": round(float(ds_binary.confusion[index, 0, 0]), 4),
                    "n_ratings": int((binary.rater_index == index).sum()),
                }
                for index, annotator in sorted(enumerate(raters), key=lambda pair: pair[1])
            },
            "items_where_it_overrules_the_non_tied_majority": int(
                ((ds_binary.labels != majority.labels) & ~majority.tie).sum()
            ),
        },
        "dawid_skene_severity": {
            "n_iter": ds_severity.n_iter,
            "converged": ds_severity.converged,
            "class_priors": dict(
                zip(map(str, SEVERITIES), ds_severity.class_priors.round(4).tolist(), strict=True)
            ),
        },
    }
    return fixed, seeded, details


def evaluate(
    items: list[ConvAbuseItem],
    fixed: dict[str, np.ndarray],
    seeded: dict[str, list[np.ndarray]],
    binary: RatingTable,
) -> dict[str, Any]:
    truth = np.array([item.hard_label for item in items])
    split_of = np.array([item.split for item in items])
    tied = majority_vote(binary).tie
    subsets = {"all": np.ones(len(items), dtype=bool)}
    subsets.update({split: split_of == split for split in SPLITS})
    subsets["tied_items_only"] = tied
    results: dict[str, Any] = {}
    for subset, mask in subsets.items():
        block: dict[str, Any] = {
            "n_items": int(mask.sum()),
            "abusive_share": float(truth[mask].mean()),
        }
        for method, predicted in fixed.items():
            block[method] = scores(truth[mask], predicted[mask])
        for method, runs in seeded.items():
            block[method] = mean_scores([scores(truth[mask], run[mask]) for run in runs])
        results[subset] = block
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/convabuse_aggregation.json")
    )
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 for random choices")
    args = parser.parse_args()

    started = time.perf_counter()
    root = datasets_root()
    items = load_convabuse(root)
    # Items are keyed by "<split>/<id>" in file order, so table order equals list order.
    binary, severity = tables(items)
    if list(binary.items) != [item.key for item in items]:
        raise RuntimeError("rating table order differs from the item order")
    seeds = list(range(args.seeds))
    fixed, seeded, details = predictions(items, binary, severity, seeds=seeds)
    results = evaluate(items, fixed, seeded, binary)

    agreement: dict[str, Any] = {"all": agreement_figures(binary, severity)}
    for split in SPLITS:
        split_items = [item for item in items if item.split == split]
        agreement[split] = agreement_figures(*tables(split_items))

    report = {
        "benchmark": "convabuse_aggregation",
        "dataset": {
            "source": str(root / "convabuse"),
            "files": [f"ConvAbuse_{split}.json" for split in SPLITS],
            "items": {split: sum(item.split == split for item in items) for split in SPLITS},
            "annotators": sorted(str(rater) for rater in binary.raters),
            "ratings": int(binary.codes.size),
            "ratings_per_item": dict(
                sorted(Counter(len(item.severities) for item in items).items())
            ),
        },
        "mapping": {
            "severity_values": {
                "1": "not abusive",
                "0": "ambiguous",
                "-1": "mildly abusive",
                "-2": "strongly abusive",
                "-3": "very strongly abusive",
            },
            "binary": "abusive (1) iff severity < 0, i.e. -1, -2 or -3; 0 (ambiguous) and 1 -> 0",
            "truth": "released hard_label, int() of a mix of '0'/'1' strings and 0/1 integers",
            "checks": encoding_checks(items),
        },
        "methods": {
            "majority_ties_*": "binary majority of the annotators; ties broken as named",
            "majority_ties_random": "ties broken by a fair coin, mean over the seeds",
            "dawid_skene_binary": "labeling.aggregation.dawid_skene on binary ratings, "
            "fitted once on all splits pooled (unsupervised), scored per split",
            "dawid_skene_severity_then_p_abusive_over_0.5": "Dawid-Skene on the 5 severities, "
            "abusive iff the posterior mass on severity < 0 exceeds 0.5",
            "single_random_annotator": "one annotator of each item chosen at random, "
            "mean over the seeds",
            "majority_ties_by_mean_severity_below_0": "ties abusive iff the mean severity is "
            "below 0 (the rule the release appears to follow, see mapping.checks)",
            "dawid_skene_settings": {"max_iter": DS_MAX_ITER, "tol": 1e-6, "smoothing": 0.01},
        },
        "seeds": seeds,
        "results": results,
        "model_details": details,
        "agreement": agreement,
        "caveat": "The released hard_label is the binary majority of the same ratings (see "
        "mapping.checks), so majority vote matches it on every non-tied item by construction; "
        "the comparison measures how often another aggregator departs from that majority, "
        "not accuracy against an independent truth.",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"results": results, "agreement": agreement["all"]}, indent=1))


if __name__ == "__main__":
    main()
