"""Policies (with their version snapshots) and queues."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction

from labeling.models import (
    DEFAULT_LABELS,
    Policy,
    PolicyVersion,
    Queue,
    QueueOrder,
)
from labeling.services.common import audit_record
from reviewtool.exceptions import Conflict, ValidationFailed


def policy_create(
    *,
    slug: str,
    name: str,
    labels: Sequence[str] | None = None,
    guidelines: str = "",
    severity: int = 1,
    positive_labels: Sequence[str] | None = None,
    ordinal: bool = False,
    actor: Any = None,
) -> Policy:
    # An explicit empty label set is an error, not a request for the defaults.
    label_list = [str(value) for value in (DEFAULT_LABELS if labels is None else labels)]
    _validate_label_set(label_list)
    positives = list(positive_labels) if positive_labels is not None else label_list[:1]
    unknown = set(positives) - set(label_list)
    if unknown:
        raise ValidationFailed(
            "Positive labels must be in the label set.",
            {"fields": {"positive_labels": sorted(unknown)}},
        )
    with transaction.atomic():
        if Policy.objects.filter(slug=slug).exists():
            raise Conflict(f"Policy {slug!r} already exists.")
        policy = Policy.objects.create(
            slug=slug,
            name=name,
            labels=label_list,
            guidelines=guidelines,
            severity=severity,
            positive_labels=positives,
            ordinal=ordinal,
        )
        _snapshot_version(policy=policy, actor=actor)
        audit_record(actor=actor, action="policy.create", obj=policy)
    return policy


def _snapshot_version(*, policy: Policy, actor: Any) -> None:
    PolicyVersion.objects.get_or_create(
        policy=policy,
        version=policy.version,
        defaults={
            "guidelines": policy.guidelines,
            "labels": list(policy.labels),
            "created_by": actor if getattr(actor, "is_authenticated", False) else None,
        },
    )


def policy_update(*, policy: Policy, actor: Any = None, **changes: Any) -> Policy:
    """Change a policy; a change to its guidelines or labels starts a new policy version."""
    allowed = {"name", "guidelines", "labels", "severity", "positive_labels", "ordinal"}
    # Media exposure of reviewers (labeling.media_selectors.media_budget_spent).
    allowed |= {"graphic", "daily_exposure_budget"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed("Unknown policy fields.", {"fields": sorted(unknown)})
    if "labels" in changes:
        _validate_label_set(changes["labels"])
    with transaction.atomic():
        policy = Policy.objects.select_for_update().get(pk=policy.pk)
        versioned = any(
            key in changes and changes[key] != getattr(policy, key)
            for key in ("guidelines", "labels")
        )
        for key, value in changes.items():
            setattr(policy, key, value)
        outside = set(policy.positive_labels) - set(policy.labels)
        if outside:
            raise ValidationFailed(
                "Positive labels must be in the label set.",
                {"fields": {"positive_labels": sorted(outside)}},
            )
        if versioned:
            policy.version += 1
        policy.save()
        if versioned:
            _snapshot_version(policy=policy, actor=actor)
        audit_record(
            actor=actor, action="policy.update", obj=policy, data={"version": policy.version}
        )
    return policy


def _validate_label_set(labels: Sequence[str]) -> None:
    if not labels or len(set(labels)) != len(labels) or any(not value for value in labels):
        raise ValidationFailed(
            "A label set needs at least one distinct, non-empty value.",
            {"fields": {"labels": list(labels)}},
        )
    if len(labels) > 9:
        # Number keys 1-9 choose a verdict; more values than keys would break keyboard review.
        raise ValidationFailed("A label set holds at most 9 values.", {"fields": {"labels": []}})


def queue_create(
    *,
    slug: str,
    name: str,
    policies: Sequence[Policy],
    overlap: int = 1,
    lease_seconds: int = 300,
    order: str = QueueOrder.PRIORITY,
    blind: bool = False,
    min_agreement: float = 1.0,
    reviewers: Iterable[Any] = (),
    actor: Any = None,
) -> Queue:
    if not policies:
        raise ValidationFailed("A queue needs at least one policy.", {"fields": {"policies": []}})
    if overlap < 1 or lease_seconds < 10:
        raise ValidationFailed(
            "Overlap must be at least 1 and leases last at least 10 seconds.",
            {"fields": {"overlap": overlap, "lease_seconds": lease_seconds}},
        )
    if not 0.0 < min_agreement <= 1.0:
        raise ValidationFailed("min_agreement must be in (0, 1].", {"fields": {}})
    if order not in QueueOrder.values:
        # An unknown order would only fail later, in every lease_next on this queue.
        raise ValidationFailed("Unknown queue order.", {"fields": {"order": order}})
    with transaction.atomic():
        if Queue.objects.filter(slug=slug).exists():
            raise Conflict(f"Queue {slug!r} already exists.")
        queue = Queue.objects.create(
            slug=slug,
            name=name,
            overlap=overlap,
            lease_seconds=lease_seconds,
            order=order,
            blind=blind,
            min_agreement=min_agreement,
        )
        queue.policies.set(policies)
        queue.reviewers.set(list(reviewers))
        audit_record(actor=actor, action="queue.create", obj=queue)
    return queue
