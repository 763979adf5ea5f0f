"""How many deliberately flipped labels confident learning finds, on real text datasets.

For each dataset and noise share: flip that exact share of labels at random (seeded; binary:
the other class, multi-class: a uniformly random other class), get 5-fold out-of-fold
probabilities from word + char TF-IDF (``activelearning.encoders.TfidfEncoder``, sparse) and
logistic regression trained on the noisy labels, run ``activelearning.label_errors`` and, for
comparison, cleanlab's ``find_label_issues``; score the flagged items against the flips.

python -m benchmarks.label_errors --dataset sms_spam
(writes benchmarks/results/label_errors_sms_spam.json; --dataset davidson likewise)

Flagged items that were not flipped count as false positives here, although some are errors in
the original labels: precision is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from cleanlab.filter import find_label_issues as cleanlab_find_label_issues
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from activelearning.encoders import TfidfEncoder
from activelearning.label_errors import (
    FilterBy,
    find_label_issues,
    label_quality,
    out_of_fold_proba,
)
from benchmarks.datasets import LOADERS

NOISE_SHARES = (0.05, 0.10)
FILTERS: tuple[FilterBy, ...] = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
)


def flip_labels(
    labels: np.ndarray, share: float, n_classes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy copy of ``labels`` with exactly round(share * n) items moved to another class."""
    n_flips = round(share * labels.size)
    flipped = np.zeros(labels.size, dtype=bool)
    flipped[rng.choice(labels.size, size=n_flips, replace=False)] = True
    noisy = labels.copy()
    offsets = rng.integers(1, n_classes, size=n_flips)
    noisy[flipped] = (labels[flipped] + offsets) % n_classes
    return noisy, flipped


def detection_scores(flagged: np.ndarray, flipped: np.ndarray) -> dict[str, float | int]:
    hits = int((flagged & flipped).sum())
    precision = hits / flagged.sum() if flagged.any() else 0.0
    recall = hits / flipped.sum() if flipped.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "flagged": int(flagged.sum()),
        "true_positives": hits,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def ranking_scores(
    noisy: np.ndarray, proba: np.ndarray, flipped: np.ndarray
) -> dict[str, dict[str, float]]:
    """How well each per-item score alone (no threshold) ranks the flips first."""
    n_flips = int(flipped.sum())
    result = {}
    for rank_by in ("self_confidence", "normalized_margin"):
        quality = label_quality(noisy, proba, rank_by=rank_by)
        top = np.argsort(quality, kind="stable")[:n_flips]
        result[rank_by] = {
            "precision_at_number_of_flips": float(flipped[top].mean()),
            "roc_auc": float(roc_auc_score(flipped, -quality)),
        }
    return result


def model() -> LogisticRegression:
    return LogisticRegression(C=10.0, max_iter=2000)


def run_original(features: Any, labels: np.ndarray, *, cv_seed: int, n_splits: int) -> np.ndarray:
    """What the detector flags on the released labels, before any flip (their own noise)."""
    proba = out_of_fold_proba(features, labels, model, n_splits=n_splits, rng_seed=cv_seed)
    return find_label_issues(labels, proba).is_issue


def run_one(
    features: Any,
    labels: np.ndarray,
    n_classes: int,
    share: float,
    *,
    flip_seed: int,
    cv_seed: int,
    n_splits: int,
    flagged_on_original: np.ndarray,
) -> dict[str, Any]:
    rng = np.random.default_rng(flip_seed)
    noisy, flipped = flip_labels(labels, share, n_classes, rng)

    started = time.perf_counter()
    proba = out_of_fold_proba(features, noisy, model, n_splits=n_splits, rng_seed=cv_seed)
    oof_seconds = time.perf_counter() - started

    ours: dict[str, Any] = {}
    reference: dict[str, Any] = {}
    for filter_by in FILTERS:
        issues = find_label_issues(noisy, proba, filter_by=filter_by)
        ours[filter_by] = detection_scores(issues.is_issue, flipped)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = cleanlab_find_label_issues(noisy, proba, filter_by=filter_by)
        reference[filter_by] = detection_scores(theirs, flipped)
        reference[filter_by]["same_items_as_ours"] = bool((theirs == issues.is_issue).all())
    default = find_label_issues(noisy, proba)
    explained = default.is_issue & (flipped | flagged_on_original)
    return {
        "noise_share": share,
        "flips": int(flipped.sum()),
        "flip_seed": flip_seed,
        "cv_seed": cv_seed,
        "oof_accuracy_vs_noisy_labels": float((proba.argmax(axis=1) == noisy).mean()),
        "oof_accuracy_vs_original_labels": float((proba.argmax(axis=1) == labels).mean()),
        "estimated_noise_rate": default.estimated_noise_rate,
        "predicted_differs_from_given": detection_scores(proba.argmax(axis=1) != noisy, flipped),
        "ours": ours,
        "ours_default_precision_counting_items_also_flagged_on_the_original_labels": float(
            explained.sum() / max(int(default.is_issue.sum()), 1)
        ),
        "cleanlab": reference,
        "ranking": ranking_scores(noisy, proba, flipped),
        "top_100_ranked_precision": float(flipped[default.ranked[:100]].mean()),
        "oof_seconds": round(oof_seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="sms_spam")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--flip-seed", type=int, default=0)
    parser.add_argument("--cv-seed", type=int, default=0)
    parser.add_argument("--splits", type=int, default=5)
    args = parser.parse_args()
    out = args.out or Path(f"benchmarks/results/label_errors_{args.dataset}.json")

    started = time.perf_counter()
    dataset = LOADERS[args.dataset]()
    labels = np.array(dataset.labels, dtype=np.int64)
    n_classes = len(dataset.class_names)
    # The vocabulary is fitted once on every text (it never sees a label).
    encoder = TfidfEncoder(n_components=0).fit(dataset.texts)
    features = encoder.transform_features(dataset.texts)
    encode_seconds = time.perf_counter() - started

    flagged_on_original = run_original(features, labels, cv_seed=args.cv_seed, n_splits=args.splits)
    runs = []
    for share in NOISE_SHARES:
        runs.append(
            run_one(
                features,
                labels,
                n_classes,
                share,
                flip_seed=args.flip_seed,
                cv_seed=args.cv_seed,
                n_splits=args.splits,
                flagged_on_original=flagged_on_original,
            )
        )
        print(json.dumps(runs[-1]["ours"]["prune_by_noise_rate"]), flush=True)

    report = {
        "benchmark": "label_errors",
        "dataset": {
            "name": dataset.name,
            "items": int(labels.size),
            "class_names": dataset.class_names,
            "class_counts": np.bincount(labels, minlength=n_classes).tolist(),
        },
        "model": {
            "features": f"activelearning.encoders.TfidfEncoder(n_components=0), {encoder.version}",
            "features_dimension": int(features.shape[1]),
            "classifier": "sklearn LogisticRegression(C=10, max_iter=2000)",
            "out_of_fold": f"StratifiedKFold({args.splits}, shuffle=True, seed=cv_seed)",
        },
        "detector": "activelearning.label_errors.find_label_issues (own implementation); "
        "cleanlab.filter.find_label_issues with the same filter_by for comparison",
        "original_labels": {
            "flagged": int(flagged_on_original.sum()),
            "share_flagged": float(flagged_on_original.mean()),
            "note": "items the default detector flags on the released labels, before any flip",
        },
        "runs": runs,
        "note": "precision counts flagged items that were not flipped as false positives, though "
        "some are errors in the original labels; it is a lower bound. The "
        "'..._also_flagged_on_the_original_labels' figure counts a flagged, unflipped item as "
        "explained when the detector also flags it on the released labels (an upper-bound view)",
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "encode_seconds": round(encode_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
