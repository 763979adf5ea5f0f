"""From decisions to labels: consensus, adjudication, re-review rounds."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef

from labeling import resolution, signals
from labeling.models import (
    Decision,
    DecisionKind,
    GoldenItem,
    Item,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    LeaseState,
    Policy,
    Queue,
    Retraction,
)
from labeling.roles import can_adjudicate
from labeling.services.common import (
    after_commit_refresh,
    audit_record,
    close_open_slots,
    validate_verdicts,
)
from reviewtool.exceptions import Conflict, Forbidden, ValidationFailed


def counted_decisions(item: Item) -> list[Decision]:
    """Review and import decisions of the item's current review round that were not undone."""
    return list(
        Decision.objects.filter(
            item=item, kind__in=resolution.COUNTED_KINDS, review_round=item.review_round
        )
        .exclude(Exists(Retraction.objects.filter(decision=OuterRef("pk"))))
        .order_by("id")
    )


def item_resolve(*, item: Item, queue: Queue) -> ItemStatus:
    """Apply the consensus rule to ``item`` and store its status (and Labels when agreed).

    Only decisions of the item's current review round count. Below ``queue.overlap`` of them the
    item stays in review. At or above it, each policy is aggregated by the queue's rule
    (``labeling.resolution``: majority or Dawid-Skene); when every policy gets a value its Label
    is stored (replacing an earlier round's), otherwise the item goes to adjudication.
    """
    if GoldenItem.objects.filter(item=item).exists():
        # Golden items measure reviewers: never resolved by consensus (labeling.golden).
        return ItemStatus(item.status)
    decisions = counted_decisions(item)
    if adjudicated_this_round(item):
        return ItemStatus(item.status)
    if len(decisions) < queue.overlap:
        status = ItemStatus.IN_REVIEW if decisions else ItemStatus.PENDING
        _reopen_slots(item=item, needed=queue.overlap)
    else:
        status = _apply_consensus(item=item, queue=queue, decisions=decisions)
        close_open_slots(item)
    item.status = status
    item.save(update_fields=["status"])
    return status


def adjudicated_this_round(item: Item) -> bool:
    return Decision.objects.filter(
        item=item, kind=DecisionKind.ADJUDICATION, review_round=item.review_round
    ).exists()


def _reopen_slots(*, item: Item, needed: int) -> None:
    # After an undo a slot closed by resolution must become leasable again. The current round's
    # slots are the item's ``needed`` highest-numbered ones (``item_reopen`` appends a round's
    # slots after the last); closed slots of earlier rounds stay closed.
    current = Lease.objects.filter(item=item).order_by("-slot").values_list("pk", flat=True)
    Lease.objects.filter(
        pk__in=list(current[:needed]), state=LeaseState.DONE, reviewer__isnull=True
    ).update(state=LeaseState.OPEN)


def _apply_consensus(*, item: Item, queue: Queue, decisions: list[Decision]) -> ItemStatus:
    agreed: list[tuple[Policy, str, resolution.Outcome]] = []
    for policy in queue.policies.all():
        outcome = resolution.resolve(item=item, queue=queue, policy=policy, decisions=decisions)
        if outcome.value is None:
            return ItemStatus.ADJUDICATION
        agreed.append((policy, outcome.value, outcome))
    previous = {label.policy_id: label for label in Label.objects.filter(item=item)}
    for policy, value, outcome in agreed:
        label = label_store(
            item=item,
            policy=policy,
            value=value,
            source=LabelSource.CONSENSUS,
            agreement=outcome.agreement,
            confidence=outcome.confidence,
        )
        old = previous.get(policy.pk)
        if old is not None:
            # The label's history: what this round's consensus replaced.
            audit_record(
                actor=None,
                action="label.replace",
                obj=label,
                data={
                    "item": item.pk,
                    "policy": policy.slug,
                    "review_round": item.review_round,
                    "value": value,
                    "previous": {
                        "value": old.value,
                        "source": old.source,
                        "policy_version": old.policy_version,
                        "agreement": old.agreement,
                        "confidence": old.confidence,
                    },
                },
            )
    return ItemStatus.RESOLVED


def label_store(
    *,
    item: Item,
    policy: Policy,
    value: str,
    source: LabelSource,
    agreement: float | None,
    confidence: float | None = None,
    decided_by: Any = None,
    announce: bool = True,
) -> Label:
    """Create or replace the resolved label of (item, policy), stamped with the policy version."""
    if value not in policy.labels:
        raise ValidationFailed(
            f"{value!r} is not a label of policy {policy.slug!r}.",
            {"fields": {policy.slug: f"Must be one of {policy.labels}."}},
        )
    label, _ = Label.objects.update_or_create(
        item=item,
        policy=policy,
        defaults={
            "value": value,
            "source": source,
            "agreement": agreement,
            "confidence": confidence,
            "policy_version": policy.version,
            "decided_by": decided_by if getattr(decided_by, "is_authenticated", False) else None,
        },
    )
    if announce:
        labels_announce(labels=[label])
    return label


def labels_announce(*, labels: Sequence[Label]) -> None:
    """Tell listeners (the machine loop) after commit which labels were resolved, per policy.

    Bulk writers (imports) store many labels with ``announce=False`` and call this once.
    """
    by_policy: dict[int, list[int]] = {}
    for label in labels:
        by_policy.setdefault(label.policy_id, []).append(label.pk)
    for policy_id, label_ids in by_policy.items():
        transaction.on_commit(
            functools.partial(
                signals.labels_resolved.send, Label, policy_id=policy_id, label_ids=label_ids
            )
        )


def item_adjudicate(
    *, item: Item, reviewer: Any, verdicts: Mapping[str, str], note: str = ""
) -> Decision:
    """A senior reviewer settles an item in adjudication or escalation; their word is the label."""
    if not can_adjudicate(reviewer):
        raise Forbidden("Only senior reviewers, leads and admins adjudicate.")
    with transaction.atomic():
        item = Item.objects.select_for_update().select_related("queue").get(pk=item.pk)
        if item.status not in (ItemStatus.ADJUDICATION, ItemStatus.ESCALATED):
            raise Conflict("This item is not waiting for adjudication.", {"status": item.status})
        clean = validate_verdicts(queue=item.queue, verdicts=verdicts)
        decision = Decision.objects.create(
            item=item,
            reviewer=reviewer,
            kind=DecisionKind.ADJUDICATION,
            verdicts=clean,
            note=note,
            review_round=item.review_round,
        )
        for policy in item.queue.policies.all():
            label_store(
                item=item,
                policy=policy,
                value=clean[policy.slug],
                source=LabelSource.ADJUDICATION,
                agreement=1.0,
                decided_by=reviewer,
            )
        item.status = ItemStatus.RESOLVED
        item.save(update_fields=["status"])
        close_open_slots(item)
        audit_record(actor=reviewer, action="item.adjudicate", obj=item, data={"verdicts": clean})
    after_commit_refresh(item.queue_id)
    return decision


def item_reopen(*, item: Item, reason: str, actor: Any = None) -> Item:
    """Send a resolved item back for another review round (a suspected error, a new policy).

    The round number goes up and ``queue.overlap`` new slots open (numbered after the item's
    last slot); only the new round's decisions count towards its next resolution. The current
    Label stays (training and exports keep using it) until the new round resolves and replaces
    it; the audit log keeps what it replaced. Reviewers who decided the item in any earlier
    round are not offered it again (``_next_candidate`` excludes every earlier decider), so a
    different pair of eyes looks: a queue needs more reviewers than its overlap for a reopened
    item to be reviewed by its members.
    """
    if not reason.strip():
        raise ValidationFailed("A reopened item needs a reason.", {"fields": {"reason": ""}})
    with transaction.atomic():
        item = Item.objects.select_for_update().select_related("queue").get(pk=item.pk)
        if item.status != ItemStatus.RESOLVED:
            raise Conflict("Only a resolved item can be reopened.", {"status": item.status})
        if hasattr(item, "golden"):
            raise Conflict("A golden item has a known answer; it is not reopened.")
        queue = item.queue
        last_slot = Lease.objects.filter(item=item).aggregate(last=Max("slot"))["last"]
        first = 0 if last_slot is None else last_slot + 1
        Lease.objects.bulk_create(
            [
                Lease(
                    item=item,
                    slot=slot,
                    queue=queue,
                    priority=item.priority,
                    received_at=item.received_at,
                )
                for slot in range(first, first + queue.overlap)
            ]
        )
        item.review_round += 1
        item.reopen_reason = reason[:200]
        item.status = ItemStatus.PENDING
        item.save(update_fields=["review_round", "reopen_reason", "status"])
        labels = dict(Label.objects.filter(item=item).values_list("policy__slug", "value"))
        audit_record(
            actor=actor,
            action="item.reopen",
            obj=item,
            data={
                "reason": item.reopen_reason,
                "review_round": item.review_round,
                "labels": labels,
            },
        )
    after_commit_refresh(item.queue_id)
    return item
