"""Leases: who reviews which slot of which item, until when."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from labeling.golden import golden_slot_for
from labeling.media_selectors import media_budget_spent
from labeling.models import (
    Decision,
    Escalation,
    GoldenItem,
    ItemMedia,
    ItemStatus,
    Lease,
    LeaseState,
    Queue,
    QueueOrder,
    Skip,
)
from labeling.roles import sees_all_queues
from labeling.services.common import (
    after_commit_refresh,
    audit_record,
    close_open_slots,
    release_slot,
)
from reviewtool.exceptions import Conflict, Forbidden, NotFound

# A reviewer may hold this many live leases per queue: the item on screen, one prefetched, and
# one spare for a slow network. More would hide items from other reviewers.
MAX_ACTIVE_LEASES_PER_QUEUE = 3


OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.IN_REVIEW)


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


def held_lease(*, token: uuid.UUID | str, reviewer: Any, now: datetime) -> Lease:
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


def lease_skip(*, token: uuid.UUID | str, reviewer: Any) -> None:
    """Give the slot back; the reviewer is not offered this item again."""
    with transaction.atomic():
        lease = held_lease(token=token, reviewer=reviewer, now=timezone.now())
        Skip.objects.create(item=lease.item, reviewer=reviewer)
        release_slot(lease)
        audit_record(actor=reviewer, action="item.skip", obj=lease.item)


def lease_escalate(*, token: uuid.UUID | str, reviewer: Any, note: str = "") -> Escalation:
    """Send the item to senior reviewers; its remaining slots close."""
    with transaction.atomic():
        lease = held_lease(token=token, reviewer=reviewer, now=timezone.now())
        item = lease.item
        escalation = Escalation.objects.create(item=item, reviewer=reviewer, note=note)
        item.status = ItemStatus.ESCALATED
        item.save(update_fields=["status"])
        release_slot(lease)
        close_open_slots(item)
        audit_record(actor=reviewer, action="item.escalate", obj=item, data={"note": note})
    after_commit_refresh(item.queue_id)
    return escalation
