"""Which labels from earlier policy versions the champion model disagrees with, and queueing
them for review under the current version.

The labeling side knows which labels are outdated (``labeling.policy_versions``); only the
machine side can say which of them the current model reads differently. Those are the ones most
likely to have changed meaning, so a lead reviews them first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activelearning.features import feature_matrix
from activelearning.services import champion_model
from labeling import policy_versions
from labeling.models import Policy

# At most this many outdated labels are scored per look (by item id), so that the page and the
# button cost the same on a policy with a million old labels as on one with a thousand.
RELABEL_CHECK_LIMIT = 5000


@dataclass(frozen=True)
class RelabelCandidates:
    """The outdated labels of a policy and the champion's disagreements with them.

    ``disagreements`` holds item ids, the model's most confident disagreement first;
    ``model_version`` is the champion's number (None without a champion: nothing is checked).
    """

    policy_version: int
    outdated: int
    checked: int
    model_version: int | None
    disagreements: list[int] = field(default_factory=list)


def relabel_candidates(*, policy: Policy, limit: int = RELABEL_CHECK_LIMIT) -> RelabelCandidates:
    outdated = policy_versions.outdated_labels(policy=policy).count()
    loaded = champion_model(policy=policy)
    if loaded is None or outdated == 0:
        return RelabelCandidates(
            policy_version=policy.version,
            outdated=outdated,
            checked=0,
            model_version=loaded[0].number if loaded else None,
        )
    version, encoder, head = loaded
    examples = policy_versions.outdated_examples(policy=policy, limit=limit)
    features = feature_matrix(
        encoder=encoder, items=[(item_id, text) for item_id, text, _ in examples]
    )
    predicted = np.asarray(head.predict(features)).astype(str)
    proba = np.asarray(head.predict_proba(features), dtype=np.float64)
    given = np.asarray([value for _, _, value in examples]).astype(str)
    disagree = np.flatnonzero(predicted != given)
    # Most confident disagreement first: the model's probability of the label it predicts.
    column = {str(label): index for index, label in enumerate(head.classes_)}
    strength = np.asarray([proba[row, column[predicted[row]]] for row in disagree])
    ordered = disagree[np.argsort(-strength, kind="stable")] if disagree.size else disagree
    return RelabelCandidates(
        policy_version=policy.version,
        outdated=outdated,
        checked=len(examples),
        model_version=version.number,
        disagreements=[int(examples[row][0]) for row in ordered],
    )


def disagreements_reopen(
    *, policy: Policy, actor: Any = None, limit: int = RELABEL_CHECK_LIMIT
) -> policy_versions.ReopenResult:
    """Reopen every outdated label the champion disagrees with (reason "policy v<n>")."""
    candidates = relabel_candidates(policy=policy, limit=limit)
    return policy_versions.outdated_labels_reopen(
        policy=policy, item_ids=candidates.disagreements, actor=actor
    )
