"""Suspected label errors of a policy, found by confident learning and sent back for review.

Every labelled item of the policy is scored by a model that never saw it: the champion's
encoder (its features, its vocabulary) with a fresh classifier head per fold, the fast variant
without calibration or threshold tuning (``activelearning.label_errors.out_of_fold_proba``).
Confident learning (``find_label_issues``) then ranks the labels the out-of-fold model most
confidently contradicts; the top ones are reopened with the reason "suspected label error", so
that different reviewers look again (``labeling.services.item_reopen``). Nothing is relabelled
by the machine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from activelearning.features import feature_matrix
from activelearning.label_errors import find_label_issues, out_of_fold_proba
from activelearning.services import MIN_LABELS_PER_CLASS, champion_model
from activelearning.training import TextClassifierHead
from labeling import selectors as labeling_selectors
from labeling import services as labeling_services
from labeling.models import Item, Policy
from reviewtool.exceptions import Conflict, NotFound, ValidationFailed

REOPEN_REASON = "suspected label error"
DEFAULT_MAX_REOPEN = 50
DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class LabelErrorReview:
    """What one review found. ``suspected`` counts every flagged label; ``reopened`` and
    ``skipped`` hold item ids among the top ``max_reopen`` (skipped: not resolved right now)."""

    policy: str
    model_version: int
    labels: int
    suspected: int
    estimated_noise_rate: float
    reopened: list[int]
    skipped: list[int]

    def counts(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "labels": self.labels,
            "suspected": self.suspected,
            "estimated_noise_rate": round(self.estimated_noise_rate, 4),
            "reopened": len(self.reopened),
            "skipped": len(self.skipped),
        }


def label_errors_review(
    *,
    policy_id: int,
    max_reopen: int = DEFAULT_MAX_REOPEN,
    n_splits: int = DEFAULT_FOLDS,
    rng_seed: int = 0,
    actor: Any = None,
) -> LabelErrorReview:
    """Find the policy's suspected label errors and reopen the ``max_reopen`` most likely.

    Refuses (``Conflict``) without a champion model, or with fewer than
    ``max(n_splits, MIN_LABELS_PER_CLASS)`` labels of some class or fewer than two classes.
    """
    if max_reopen < 0:
        raise ValidationFailed(
            "max_reopen must not be negative.", {"fields": {"max_reopen": max_reopen}}
        )
    policy = Policy.objects.filter(pk=policy_id).first()
    if policy is None:
        raise NotFound(f"No policy {policy_id}.")
    loaded = champion_model(policy=policy)
    if loaded is None:
        raise Conflict(
            f"Policy {policy.slug!r} has no champion model; train one before looking for "
            "label errors."
        )
    version, encoder, head = loaded
    examples = labeling_selectors.labeled_examples(policy=policy)
    values = [value for _, _, value in examples]
    _refuse_too_few(policy=policy, values=values, needed=max(n_splits, MIN_LABELS_PER_CLASS))

    features = feature_matrix(
        encoder=encoder, items=[(item_id, text) for item_id, text, _ in examples]
    )
    _, codes = np.unique(np.asarray(values), return_inverse=True)
    fast = {**head.get_params(), "calibration": "none", "tune_thresholds": False}
    proba = out_of_fold_proba(
        features,
        codes,
        lambda: TextClassifierHead(**fast),
        n_splits=n_splits,
        rng_seed=rng_seed,
    )
    issues = find_label_issues(codes, proba)
    top = [int(examples[index][0]) for index in issues.ranked[:max_reopen]]
    reopened, skipped = _reopen(item_ids=top, actor=actor)
    review = LabelErrorReview(
        policy=policy.slug,
        model_version=version.number,
        labels=len(examples),
        suspected=int(issues.is_issue.sum()),
        estimated_noise_rate=issues.estimated_noise_rate,
        reopened=reopened,
        skipped=skipped,
    )
    labeling_services.audit_record(
        actor=actor, action="label_errors.review", obj=policy, data=review.counts()
    )
    return review


def _refuse_too_few(*, policy: Policy, values: Sequence[str], needed: int) -> None:
    counts = Counter(values)
    scarce = {value: count for value, count in counts.items() if count < needed}
    if len(counts) < 2 or scarce:
        raise Conflict(
            f"Too few labels to look for label errors in {policy.slug!r}: every class needs at "
            f"least {needed} labels and there must be two classes.",
            {"label_counts": dict(counts)},
        )


def _reopen(*, item_ids: Sequence[int], actor: Any) -> tuple[list[int], list[int]]:
    items = Item.objects.in_bulk(list(item_ids))
    reopened: list[int] = []
    skipped: list[int] = []
    for item_id in item_ids:
        try:
            labeling_services.item_reopen(item=items[item_id], reason=REOPEN_REASON, actor=actor)
        except Conflict:
            # Already back in review, in adjudication, or golden: someone is on it or it is fixed.
            skipped.append(item_id)
        else:
            reopened.append(item_id)
    return reopened, skipped
