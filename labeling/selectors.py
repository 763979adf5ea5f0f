"""Reads of the human loop. Views and the API call these instead of building querysets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from labeling.models import (
    Decision,
    DecisionKind,
    Item,
    ItemMedia,
    ItemStatus,
    Label,
    Lease,
    LeaseState,
    Policy,
    Queue,
    Retraction,
)
from labeling.roles import can_adjudicate, sees_all_queues


def queues_for_user(user: Any) -> QuerySet[Queue]:
    """Queues a user may see: all of them for staff roles, their own for reviewers."""
    queues = Queue.objects.prefetch_related("policies")
    if sees_all_queues(user):
        return queues.all()
    return queues.filter(reviewers=user).distinct()


def queues_with_counts(user: Any) -> QuerySet[Queue]:
    """Queues with live counts of items per status (for the queue list)."""
    return queues_for_user(user).annotate(
        pending_count=Count("items", filter=Q(items__status=ItemStatus.PENDING)),
        in_review_count=Count("items", filter=Q(items__status=ItemStatus.IN_REVIEW)),
        adjudication_count=Count(
            "items",
            filter=Q(items__status__in=(ItemStatus.ADJUDICATION, ItemStatus.ESCALATED)),
        ),
        escalated_count=Count("items", filter=Q(items__status=ItemStatus.ESCALATED)),
        resolved_count=Count("items", filter=Q(items__status=ItemStatus.RESOLVED)),
    )


def policies_for_user(user: Any) -> QuerySet[Policy]:
    if sees_all_queues(user):
        return Policy.objects.all()
    return Policy.objects.filter(queues__in=queues_for_user(user)).distinct()


def items_for_user(
    user: Any,
    *,
    queue: str | None = None,
    status: str | None = None,
    source: str | None = None,
    external_id: str | None = None,
) -> QuerySet[Item]:
    """Items a user may see, filtered. Reviewers see only their queues' items."""
    # Media (with their assets, in one query) are listed with every item the API returns.
    items = Item.objects.select_related("queue").prefetch_related(
        Prefetch("media", queryset=ItemMedia.objects.select_related("asset"))
    )
    if not sees_all_queues(user):
        items = items.filter(queue__in=queues_for_user(user))
    if queue:
        items = items.filter(queue__slug=queue)
    if status:
        items = items.filter(status=status)
    if source:
        items = items.filter(source=source)
    if external_id:
        items = items.filter(external_id=external_id)
    return items.order_by("-received_at", "-id")


def labels_for_user(
    user: Any,
    *,
    policy: str | None = None,
    source: str | None = None,
    queue: str | None = None,
    since: datetime | None = None,
) -> QuerySet[Label]:
    """Resolved labels a user may see.

    Reviewers see their queues' labels only once an item is settled: an item back in review
    (re-review, a new policy version) keeps its old label hidden from them, so review stays blind.
    """
    labels = Label.objects.select_related("item", "policy")
    if not sees_all_queues(user):
        labels = labels.filter(item__queue__in=queues_for_user(user))
        if not can_adjudicate(user):
            labels = labels.filter(item__status=ItemStatus.RESOLVED)
    if policy:
        labels = labels.filter(policy__slug=policy)
    if source:
        labels = labels.filter(source=source)
    if queue:
        labels = labels.filter(item__queue__slug=queue)
    if since:
        labels = labels.filter(created_at__gte=since)
    return labels.order_by("-created_at", "-id")


def decisions_for_user(
    user: Any, *, mine: bool = False, item: int | None = None, queue: str | None = None
) -> QuerySet[Decision]:
    """Decisions a user may see; reviewers see only their own (blind overlap)."""
    decisions = Decision.objects.select_related("item", "reviewer", "lease").annotate(
        retracted=Exists(Retraction.objects.filter(decision=OuterRef("pk")))
    )
    if item is not None:
        decisions = decisions.filter(item_id=item)
    if queue:
        decisions = decisions.filter(item__queue__slug=queue)
    if mine or not (sees_all_queues(user) or can_adjudicate(user)):
        return decisions.filter(reviewer=user)
    if not sees_all_queues(user):
        decisions = decisions.filter(item__queue__in=queues_for_user(user))
    return decisions


def decision_by_idempotency_key(user: Any, *, key: str) -> Decision | None:
    """The decision ``user`` already stored under ``key``, if any (to tell a retry apart)."""
    return Decision.objects.filter(reviewer=user, idempotency_key=key).first()


def recent_decisions(user: Any, *, limit: int = 10) -> list[dict[str, Any]]:
    """A reviewer's latest decisions, each saying whether it can still be undone."""
    now = timezone.now()
    rows = list(
        decisions_for_user(user, mine=True)
        .filter(kind=DecisionKind.REVIEW)
        .select_related("lease")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        {
            "decision": row,
            "undoable": (
                not row.retracted  # type: ignore[attr-defined]
                and row.lease is not None
                and row.lease.expires_at is not None
                and row.lease.expires_at > now
                and row.lease.reviewer_id == user.pk
            ),
        }
        for row in rows
    ]


def adjudication_backlog(user: Any) -> QuerySet[Item]:
    """Items waiting for a senior reviewer, oldest first, in the queues the user may see."""
    if not can_adjudicate(user):
        return Item.objects.none()
    return (
        items_for_user(user)
        .filter(status__in=(ItemStatus.ADJUDICATION, ItemStatus.ESCALATED))
        .prefetch_related(
            Prefetch(
                "decisions",
                queryset=Decision.objects.select_related("reviewer")
                .annotate(retracted=Exists(Retraction.objects.filter(decision=OuterRef("pk"))))
                .order_by("created_at", "id"),
            ),
            "escalations__reviewer",
            "queue__policies",
        )
        .order_by("received_at", "id")
    )


def live_leases(user: Any, *, queue: Queue) -> QuerySet[Lease]:
    return Lease.objects.filter(
        queue=queue, reviewer=user, state=LeaseState.LEASED, expires_at__gt=timezone.now()
    )


def labeled_examples(*, policy: Policy) -> list[tuple[int, str, str]]:
    """``(item id, text, label value)`` of every resolved label of ``policy``, oldest first.

    This is the training set of the machine side; it reads labels only through here.
    """
    return list(
        Label.objects.filter(policy=policy)
        .exclude(item__golden__isnull=False)  # golden items measure people, never train models
        .order_by("item_id")
        .values_list("item_id", "item__text", "value")
    )


def unlabeled_items(*, policy: Policy) -> QuerySet[Item]:
    """Items still waiting for review in queues that judge ``policy`` (the pool to score)."""
    return Item.objects.filter(
        queue__policies=policy, status__in=(ItemStatus.PENDING, ItemStatus.IN_REVIEW)
    ).order_by("id")


def open_items(*, queue: Queue) -> QuerySet[Item]:
    """Items of ``queue`` that still need reviews (what the re-ranker orders)."""
    return Item.objects.filter(
        queue=queue, status__in=(ItemStatus.PENDING, ItemStatus.IN_REVIEW)
    ).order_by("id")
