"""Writes of the human loop: ingest, leases, decisions, consensus, adjudication.

Every service validates, writes inside ``transaction.atomic`` and enqueues follow-up work with
``transaction.on_commit``. Errors are ``ApplicationError`` subclasses.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from labeling import resolution, signals
from labeling.golden import golden_score_decision, golden_slot_for
from labeling.media_selectors import media_budget_spent
from labeling.models import (
    DEFAULT_LABELS,
    AuditEvent,
    Decision,
    DecisionKind,
    Escalation,
    GoldenItem,
    Item,
    ItemMedia,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    LeaseState,
    Policy,
    PolicyVersion,
    Queue,
    QueueOrder,
    Retraction,
    Skip,
)
from labeling.roles import can_adjudicate, sees_all_queues
from labeling.tasks import refresh_queue_stats
from reviewtool.exceptions import Conflict, Forbidden, NotFound, ValidationFailed

User = AbstractBaseUser | AnonymousUser

# A reviewer may hold this many live leases per queue: the item on screen, one prefetched, and
# one spare for a slow network. More would hide items from other reviewers.
MAX_ACTIVE_LEASES_PER_QUEUE = 3
OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.IN_REVIEW)


# --- audit ---------------------------------------------------------------------------------------


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


# --- policies and queues -------------------------------------------------------------------------


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


# --- ingest --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemInput:
    external_id: str
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    language: str = ""
    received_at: datetime | None = None
    priority: float = 0.0


@dataclass(frozen=True)
class IngestResult:
    created: list[Item]
    existing: list[Item]


def items_ingest(
    *, queue: Queue, items: Sequence[ItemInput], source: str = "api", actor: Any = None
) -> IngestResult:
    """Create items with their review slots; idempotent on (source, external id).

    An item that already exists is returned in ``existing`` and left untouched, so a client can
    retry a whole batch after a timeout.
    """
    _validate_item_inputs(items)
    try:
        return _ingest_once(queue=queue, items=items, source=source, actor=actor)
    except IntegrityError:
        # A concurrent request (say a client's retry while its first try still ran) stored some
        # of these items first; a second pass finds them and reports them as existing.
        return _ingest_once(queue=queue, items=items, source=source, actor=actor)


def _ingest_once(
    *, queue: Queue, items: Sequence[ItemInput], source: str, actor: Any
) -> IngestResult:
    now = timezone.now()
    with transaction.atomic():
        ids = [entry.external_id for entry in items]
        found = {
            item.external_id: item
            for item in Item.objects.filter(source=source, external_id__in=ids)
        }
        new_items = [
            Item(
                queue=queue,
                source=source,
                external_id=entry.external_id,
                text=entry.text,
                metadata=dict(entry.metadata),
                language=entry.language,
                received_at=entry.received_at or now,
                priority=entry.priority,
            )
            for entry in items
            if entry.external_id not in found
        ]
        created = Item.objects.bulk_create(new_items, batch_size=1000)
        Lease.objects.bulk_create(
            [
                Lease(
                    item=item,
                    slot=slot,
                    queue=queue,
                    priority=item.priority,
                    received_at=item.received_at,
                )
                for item in created
                for slot in range(queue.overlap)
            ],
            batch_size=2000,
        )
        if created:
            audit_record(
                actor=actor, action="items.ingest", obj=queue, data={"created": len(created)}
            )
            created_ids = [item.pk for item in created]
            transaction.on_commit(lambda: signals.items_ingested.send(Item, item_ids=created_ids))
    return IngestResult(created=created, existing=list(found.values()))


def _validate_item_inputs(items: Sequence[ItemInput]) -> None:
    seen: set[str] = set()
    errors: dict[str, str] = {}
    for index, entry in enumerate(items):
        if not entry.external_id or len(entry.external_id) > 255:
            errors[str(index)] = "external_id must be 1 to 255 characters."
        elif entry.external_id in seen:
            errors[str(index)] = f"duplicate external_id {entry.external_id!r} in this batch."
        seen.add(entry.external_id)
    if errors:
        raise ValidationFailed("Some items are invalid; nothing was stored.", {"rows": errors})


PRIORITY_BATCH = 2000


def items_set_priority(*, priorities: Mapping[int, float]) -> int:
    """Re-rank items (the active-learning side calls this); open slots follow their item."""
    ids = list(priorities)
    updated = 0
    for start in range(0, len(ids), PRIORITY_BATCH):
        batch = ids[start : start + PRIORITY_BATCH]
        with transaction.atomic():
            items = [Item(pk=item_id, priority=priorities[item_id]) for item_id in batch]
            updated += Item.objects.bulk_update(items, ["priority"])
            Lease.objects.filter(item_id__in=batch).exclude(state=LeaseState.DONE).update(
                priority=Subquery(Item.objects.filter(pk=OuterRef("item_id")).values("priority"))
            )
    return updated


def items_set_model_scores(
    *, policy: Policy, model_version_id: int, scores: Mapping[int, Mapping[str, float]]
) -> int:
    """Store a model's class probabilities per item for one policy (``{item id: {label: p}}``).

    The item keeps ``model_scores[policy] = {"label", "score", "proba"}``: the top label, its
    probability, and all of them; this is what reviewers see as the suggestion.
    """
    ids = list(scores)
    updated = 0
    for start in range(0, len(ids), PRIORITY_BATCH):
        batch = ids[start : start + PRIORITY_BATCH]
        with transaction.atomic():
            items = list(Item.objects.filter(pk__in=batch).only("id", "model_scores"))
            for item in items:
                proba = {label: float(p) for label, p in scores[item.pk].items()}
                top = max(proba, key=lambda label: proba[label])
                item.model_scores = {
                    **(item.model_scores or {}),
                    policy.slug: {"label": top, "score": proba[top], "proba": proba},
                }
                item.model_version_id = model_version_id
            updated += Item.objects.bulk_update(items, ["model_scores", "model_version_id"])
    return updated


# --- leases --------------------------------------------------------------------------------------


def lease_next(
    *, queue: Queue, reviewer: Any, exclude_tokens: Sequence[uuid.UUID] = ()
) -> Lease | None:
    """Lease the next slot of ``queue`` to ``reviewer``, or return a live lease they already hold.

    Returning a held lease first makes a page reload resume the same item. ``exclude_tokens`` are
    leases the client already shows (the prefetch asks for a second, different item). On
    PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED`` so concurrent reviewers
    never wait on, or take, each other's slot; SQLite runs every transaction with the write lock
    taken up front (``transaction_mode=IMMEDIATE`` in settings), which serialises the same steps.
    """
    _ensure_member(queue=queue, reviewer=reviewer)
    now = timezone.now()
    with transaction.atomic():
        held = list(
            Lease.objects.filter(
                queue=queue, reviewer=reviewer, state=LeaseState.LEASED, expires_at__gt=now
            )
            .exclude(token__in=list(exclude_tokens))
            .order_by("leased_at")[:1]
        )
        if held:
            return held[0]
        live_count = Lease.objects.filter(
            reviewer=reviewer, queue=queue, state=LeaseState.LEASED, expires_at__gt=now
        ).count()
        if live_count >= MAX_ACTIVE_LEASES_PER_QUEUE:
            raise Conflict("You already hold the maximum number of items in this queue.")
        # Honeypots have slots of their own, served at the queue's golden share.
        candidate = golden_slot_for(queue=queue, reviewer=reviewer, now=now) or _next_candidate(
            queue=queue, reviewer=reviewer, now=now
        )
        if candidate is None:
            return None
        candidate.state = LeaseState.LEASED
        candidate.reviewer = reviewer
        candidate.token = uuid.uuid4()
        candidate.leased_at = now
        candidate.expires_at = now + timedelta(seconds=queue.lease_seconds)
        candidate.save(update_fields=["state", "reviewer", "token", "leased_at", "expires_at"])
    return candidate


def _next_candidate(*, queue: Queue, reviewer: Any, now: datetime) -> Lease | None:
    mine_on_item = Lease.objects.filter(item=OuterRef("item"), reviewer=reviewer).filter(
        Q(state=LeaseState.DONE) | Q(state=LeaseState.LEASED, expires_at__gt=now)
    )
    skipped = Skip.objects.filter(item=OuterRef("item"), reviewer=reviewer)
    golden = GoldenItem.objects.filter(item=OuterRef("item"))
    # Any round's decision counts: a reopened item goes to eyes that have not judged it yet.
    decided = Decision.objects.filter(item=OuterRef("item"), reviewer=reviewer)
    candidates: QuerySet[Lease] = (
        Lease.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(queue=queue)
        .filter(~Exists(mine_on_item), ~Exists(skipped), ~Exists(decided), ~Exists(golden))
    )
    if media_budget_spent(queue=queue, reviewer=reviewer, now=now):
        # Today's budget of graphic media is spent: only items without media for this reviewer.
        candidates = candidates.filter(~Exists(ItemMedia.objects.filter(item=OuterRef("item"))))
    ordering, position = _QUEUE_ORDERS[QueueOrder(queue.order)]
    # One query per state: each walks the ``lease_next`` index in queue order and stops at the
    # first free slot. ``state = open OR (leased AND expired)`` in one query made PostgreSQL
    # collect and sort every open slot of the queue (~100k rows) on each call.
    found = [
        lease
        for lease in (
            candidates.filter(state=LeaseState.OPEN).order_by(*ordering).first(),
            candidates.filter(state=LeaseState.LEASED, expires_at__lte=now)
            .order_by(*ordering)
            .first(),
        )
        if lease is not None
    ]
    return min(found, key=position) if found else None


_QUEUE_ORDERS: dict[QueueOrder, tuple[tuple[str, ...], Callable[[Lease], tuple[Any, ...]]]] = {
    QueueOrder.PRIORITY: (
        ("-priority", "received_at", "id"),
        lambda lease: (-lease.priority, lease.received_at, lease.pk),
    ),
    QueueOrder.OLDEST: (("received_at", "id"), lambda lease: (lease.received_at, lease.pk)),
    QueueOrder.NEWEST: (
        ("-received_at", "-id"),
        lambda lease: (-lease.received_at.timestamp(), -lease.pk),
    ),
}


def _ensure_member(*, queue: Queue, reviewer: Any) -> None:
    if sees_all_queues(reviewer):
        return
    if not queue.reviewers.filter(pk=reviewer.pk).exists():
        raise Forbidden("You are not a reviewer of this queue.")


def _held_lease(*, token: uuid.UUID | str, reviewer: Any, now: datetime) -> Lease:
    """The lease with ``token``, locked, if ``reviewer`` holds it and it has not expired."""
    try:
        token = uuid.UUID(str(token))
    except ValueError as error:
        raise NotFound("No such lease.") from error
    try:
        # The item is locked with its slot, so that two decisions on one item resolve it in
        # turn; the queue is only read (locking it too made every decision of a queue wait for
        # the one before).
        lease = (
            Lease.objects.select_for_update(of=("self", "item"))
            .select_related("item", "queue")
            .get(token=token)
        )
    except Lease.DoesNotExist as error:
        # A token is one grant: once its slot is released, closed or leased again the grant is
        # gone, and the holder is told so like any other ended lease.
        raise Conflict("This lease has ended; take the next item.") from error
    if lease.reviewer_id != reviewer.pk:
        raise Conflict("This lease belongs to another reviewer.")
    if lease.state != LeaseState.LEASED:
        raise Conflict("This lease is no longer open.", {"state": lease.state})
    if lease.expires_at is None or lease.expires_at <= now:
        raise Conflict("This lease has expired; take the next item.")
    return lease


def _release(lease: Lease) -> None:
    lease.state = LeaseState.OPEN
    lease.reviewer = None
    lease.token = None
    lease.leased_at = None
    lease.expires_at = None
    lease.save(update_fields=["state", "reviewer", "token", "leased_at", "expires_at"])


def lease_skip(*, token: uuid.UUID | str, reviewer: Any) -> None:
    """Give the slot back; the reviewer is not offered this item again."""
    with transaction.atomic():
        lease = _held_lease(token=token, reviewer=reviewer, now=timezone.now())
        Skip.objects.create(item=lease.item, reviewer=reviewer)
        _release(lease)
        audit_record(actor=reviewer, action="item.skip", obj=lease.item)


def lease_escalate(*, token: uuid.UUID | str, reviewer: Any, note: str = "") -> Escalation:
    """Send the item to senior reviewers; its remaining slots close."""
    with transaction.atomic():
        lease = _held_lease(token=token, reviewer=reviewer, now=timezone.now())
        item = lease.item
        escalation = Escalation.objects.create(item=item, reviewer=reviewer, note=note)
        item.status = ItemStatus.ESCALATED
        item.save(update_fields=["status"])
        _release(lease)
        _close_open_slots(item)
        audit_record(actor=reviewer, action="item.escalate", obj=item, data={"note": note})
    _after_commit_refresh(item.queue_id)
    return escalation


def _close_open_slots(item: Item) -> None:
    # Slots of an item that needs no more reviews are closed so the next-item scan skips them.
    Lease.objects.filter(item=item).exclude(state=LeaseState.DONE).update(
        state=LeaseState.DONE, token=None, expires_at=None
    )


# --- decisions -----------------------------------------------------------------------------------


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
            lease = _held_lease(token=token, reviewer=reviewer, now=timezone.now())
            clean = _validate_verdicts(queue=lease.queue, verdicts=verdicts)
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
    _after_commit_refresh(lease.queue_id)
    return decision


def _decision_by_key(*, reviewer: Any, key: str) -> Decision | None:
    return Decision.objects.filter(reviewer=reviewer, idempotency_key=key).first()


def _validate_verdicts(*, queue: Queue, verdicts: Mapping[str, str]) -> dict[str, str]:
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
            _adjudicated_this_round(item)
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
    _after_commit_refresh(lease.queue_id)
    return lease


def _counted_decisions(item: Item) -> list[Decision]:
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
    decisions = _counted_decisions(item)
    if _adjudicated_this_round(item):
        return ItemStatus(item.status)
    if len(decisions) < queue.overlap:
        status = ItemStatus.IN_REVIEW if decisions else ItemStatus.PENDING
        _reopen_slots(item=item, needed=queue.overlap)
    else:
        status = _apply_consensus(item=item, queue=queue, decisions=decisions)
        _close_open_slots(item)
    item.status = status
    item.save(update_fields=["status"])
    return status


def _adjudicated_this_round(item: Item) -> bool:
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
        clean = _validate_verdicts(queue=item.queue, verdicts=verdicts)
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
        _close_open_slots(item)
        audit_record(actor=reviewer, action="item.adjudicate", obj=item, data={"verdicts": clean})
    _after_commit_refresh(item.queue_id)
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
    _after_commit_refresh(item.queue_id)
    return item


# --- queue statistics ----------------------------------------------------------------------------


def _after_commit_refresh(queue_id: int) -> None:
    transaction.on_commit(lambda: refresh_queue_stats.delay(queue_id))
