"""Shared steps of the services: the audit trail, slot bookkeeping, verdict checks."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.core.cache import cache
from django.db import transaction

from labeling.models import (
    AuditEvent,
    Item,
    Lease,
    LeaseState,
    Queue,
)
from labeling.tasks import refresh_queue_stats
from reviewtool.exceptions import ValidationFailed


def audit_record(
    *, actor: Any, action: str, obj: Any, data: Mapping[str, Any] | None = None
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.pk),
        data=dict(data or {}),
    )


def validate_verdicts(*, queue: Queue, verdicts: Mapping[str, str]) -> dict[str, str]:
    policies = {policy.slug: policy for policy in queue.policies.all()}
    errors: dict[str, str] = {}
    if not isinstance(verdicts, Mapping):
        raise ValidationFailed("verdicts must be an object {policy: label}.", {"fields": {}})
    for slug in verdicts:
        if slug not in policies:
            errors[str(slug)] = "This queue does not review this policy."
    for slug, policy in policies.items():
        value = verdicts.get(slug)
        if value is None:
            errors[slug] = "A verdict is required."
        elif value not in policy.labels:
            errors[slug] = f"Must be one of {policy.labels}."
    if errors:
        raise ValidationFailed("Invalid verdicts.", {"fields": errors})
    return {slug: str(verdicts[slug]) for slug in policies}


def close_open_slots(item: Item) -> None:
    # Slots of an item that needs no more reviews are closed so the next-item scan skips them.
    Lease.objects.filter(item=item).exclude(state=LeaseState.DONE).update(
        state=LeaseState.DONE, token=None, expires_at=None
    )


def release_slot(lease: Lease) -> None:
    lease.state = LeaseState.OPEN
    lease.reviewer = None
    lease.token = None
    lease.leased_at = None
    lease.expires_at = None
    lease.save(update_fields=["state", "reviewer", "token", "leased_at", "expires_at"])


# Queue counts are recounted at most once per this many seconds per queue (and per process):
# a recount scans the queue, and a busy queue takes many decisions a second.
STATS_DEBOUNCE_SECONDS = 5


def after_commit_refresh(queue_id: int) -> None:
    """After commit, schedule a recount of the queue unless one is already due shortly."""
    transaction.on_commit(functools.partial(_schedule_refresh, queue_id))


def _schedule_refresh(queue_id: int) -> None:
    if cache.add(f"labeling:queue-stats:{queue_id}", 1, timeout=STATS_DEBOUNCE_SECONDS):
        refresh_queue_stats.apply_async(args=(queue_id,), countdown=STATS_DEBOUNCE_SECONDS)
