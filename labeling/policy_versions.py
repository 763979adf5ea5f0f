"""Labels and policy versions: which labels predate a policy's current version, and sending
chosen ones back for review under it.

A Label is stamped with the policy version it was resolved under. When the guidelines or the
label set change (``services.policy_update``), older labels may no longer say what the policy
now means; a lead picks which to review again (the machine side suggests those the current model
disagrees with) and :func:`outdated_labels_reopen` sends them back through
``services.item_reopen``. Golden items keep their known answers and are never listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet

from labeling import services
from labeling.models import Item, ItemStatus, Label, Policy, PolicyVersion
from reviewtool.exceptions import Conflict


@dataclass(frozen=True)
class VersionLabels:
    """One version of a policy and how many current labels were resolved under it."""

    version: int
    labels: int
    created_at: datetime | None
    created_by: str


@dataclass(frozen=True)
class ReopenResult:
    reopened: list[int] = field(default_factory=list)
    # Items not reopened: not resolved now (already back in review, say), or no outdated label.
    skipped: list[int] = field(default_factory=list)


def relabel_reason(policy: Policy) -> str:
    return f"policy v{policy.version}"


def outdated_labels(*, policy: Policy) -> QuerySet[Label]:
    """Labels of ``policy`` resolved under an earlier version than the current one."""
    return Label.objects.filter(policy=policy, policy_version__lt=policy.version).exclude(
        item__golden__isnull=False
    )


def outdated_examples(*, policy: Policy, limit: int | None = None) -> list[tuple[int, str, str]]:
    """``(item id, text, label value)`` of the outdated labels, by item id (the first ``limit``)."""
    rows = (
        outdated_labels(policy=policy)
        .order_by("item_id")
        .values_list("item_id", "item__text", "value")
    )
    return list(rows if limit is None else rows[:limit])


def labels_per_version(*, policy: Policy) -> list[VersionLabels]:
    """Every version of ``policy``, newest first, with the number of labels stamped with it.

    A version with labels but no snapshot (data from before snapshots existed) is listed too.
    """
    counts = dict(
        Label.objects.filter(policy=policy)
        .exclude(item__golden__isnull=False)
        .values_list("policy_version")
        .annotate(total=Count("id"))
        .order_by()
    )
    snapshots = {
        snapshot.version: snapshot
        for snapshot in PolicyVersion.objects.filter(policy=policy).select_related("created_by")
    }
    versions = sorted(set(counts) | set(snapshots) | {policy.version}, reverse=True)
    result = []
    for version in versions:
        snapshot = snapshots.get(version)
        author = snapshot.created_by if snapshot is not None else None
        result.append(
            VersionLabels(
                version=version,
                labels=counts.get(version, 0),
                created_at=snapshot.created_at if snapshot is not None else None,
                created_by=author.get_username() if author is not None else "",
            )
        )
    return result


def outdated_labels_reopen(
    *, policy: Policy, item_ids: Sequence[int], actor: Any = None
) -> ReopenResult:
    """Send the chosen items back for review under the current version ("policy v<n>").

    Only items whose label of ``policy`` is outdated and which are resolved now are reopened;
    each keeps its label until its new round resolves.
    """
    wanted = list(dict.fromkeys(item_ids))
    eligible = set(
        outdated_labels(policy=policy)
        .filter(item_id__in=wanted, item__status=ItemStatus.RESOLVED)
        .values_list("item_id", flat=True)
    )
    items = Item.objects.in_bulk(sorted(eligible))
    result = ReopenResult()
    reason = relabel_reason(policy)
    for item_id in wanted:
        item = items.get(item_id)
        if item is None:
            result.skipped.append(item_id)
            continue
        try:
            services.item_reopen(item=item, reason=reason, actor=actor)
        except Conflict:
            # Moved on since it was listed (reopened or sent to adjudication meanwhile).
            result.skipped.append(item_id)
        else:
            result.reopened.append(item_id)
    return result
