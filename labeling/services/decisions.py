"""Reviewers' decisions: submit (idempotent), undo while the lease lasts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.golden import golden_score_decision
from labeling.models import (
    Decision,
    DecisionKind,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    LeaseState,
    Retraction,
)
from labeling.services.common import after_commit_refresh, audit_record, validate_verdicts
from labeling.services.labels import adjudicated_this_round, item_resolve
from labeling.services.leases import held_lease
from reviewtool.exceptions import Conflict, Forbidden


def decision_submit(
    *,
    token: uuid.UUID | str,
    reviewer: Any,
    verdicts: Mapping[str, str],
    idempotency_key: str | None = None,
    note: str = "",
    time_on_item_ms: int | None = None,
    suggestion_shown: Mapping[str, Any] | None = None,
) -> Decision:
    """Record a reviewer's verdicts for a leased slot and resolve consensus.

    Idempotent by ``idempotency_key``: a retry returns the decision already stored. Refuses a lease
    that expired or belongs to someone else (``Conflict``, HTTP 409).
    """
    if idempotency_key:
        existing = _decision_by_key(reviewer=reviewer, key=idempotency_key)
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            lease = held_lease(token=token, reviewer=reviewer, now=timezone.now())
            clean = validate_verdicts(queue=lease.queue, verdicts=verdicts)
            decision = Decision.objects.create(
                item=lease.item,
                lease=lease,
                reviewer=reviewer,
                kind=DecisionKind.REVIEW,
                verdicts=clean,
                note=note,
                time_on_item_ms=time_on_item_ms,
                suggestion_shown=dict(suggestion_shown) if suggestion_shown else None,
                idempotency_key=idempotency_key or None,
                review_round=lease.item.review_round,
            )
            lease.state = LeaseState.DONE
            lease.save(update_fields=["state"])
            item_resolve(item=lease.item, queue=lease.queue)
            golden_score_decision(decision=decision)
    except IntegrityError:
        # A concurrent retry with the same key won the race; return what it stored.
        if idempotency_key:
            existing = _decision_by_key(reviewer=reviewer, key=idempotency_key)
            if existing is not None:
                return existing
        raise
    after_commit_refresh(lease.queue_id)
    return decision


def _decision_by_key(*, reviewer: Any, key: str) -> Decision | None:
    return Decision.objects.filter(reviewer=reviewer, idempotency_key=key).first()


def decision_undo(*, decision: Decision, reviewer: Any) -> Lease:
    """Retract one's own decision while its lease lasts; the slot goes back to the reviewer."""
    with transaction.atomic():
        decision = Decision.objects.select_for_update().get(pk=decision.pk)
        if decision.reviewer_id != reviewer.pk:
            raise Forbidden("You can only undo your own decisions.")
        if Retraction.objects.filter(decision=decision).exists():
            raise Conflict("This decision was already undone.")
        if decision.lease_id is None:
            raise Conflict("Only a review decision made under a lease can be undone.")
        lease = (
            Lease.objects.select_for_update()
            .select_related("queue", "item")
            .get(pk=decision.lease_id)
        )
        if lease.expires_at is None or lease.expires_at <= timezone.now():
            raise Conflict("The lease for this decision has ended; it can no longer be undone.")
        item = lease.item
        if item.status in (ItemStatus.ADJUDICATION, ItemStatus.ESCALATED) or (
            adjudicated_this_round(item)
        ):
            raise Conflict("This item has moved on to a senior reviewer.")
        Retraction.objects.create(decision=decision)
        lease.state = LeaseState.LEASED
        lease.save(update_fields=["state"])
        if item.status == ItemStatus.RESOLVED:
            # Only a resolution this undo takes back goes; a reopened item keeps its previous
            # round's label until the new round resolves.
            Label.objects.filter(item=item, source=LabelSource.CONSENSUS).delete()
        # Reopen the other slots that resolution closed.
        item_resolve(item=item, queue=lease.queue)
        audit_record(actor=reviewer, action="decision.undo", obj=decision)
    after_commit_refresh(lease.queue_id)
    return lease
