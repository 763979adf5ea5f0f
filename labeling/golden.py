"""Golden items (honeypots): items whose right answer is known, served blind to measure reviewers.

A golden item is an ordinary :class:`~labeling.models.Item` with a :class:`GoldenItem` row. It
stays in its queue, but it is served outside the overlap slots: with ``queue.golden_share = s``
a reviewer is given a golden item they have not answered whenever their golden answers in that
queue fall below ``s`` times everything they were served there, which keeps the share exact over
time and is deterministic (no random draw to seed in tests). Each serving gets a slot of its own
(a new ``Lease`` row, or a golden slot someone skipped or let expire), so every reviewer can
answer every golden item; the ordinary next-item scan never takes a golden slot.

Golden items are never resolved by consensus (``services.item_resolve`` leaves them alone), never
get labels from their answers and never train a model (``selectors.labeled_examples`` leaves
them out). An answer is scored per policy against ``expected``; accuracy is computed from the
decisions themselves (not undone, made after the item became golden, on an active golden item),
so correcting an expected answer re-scores the history. Each scoring is also written to the
audit log, and a check per (reviewer, policy) runs in Celery after the decision commits.

This module imports no other service module: ``services`` calls into it from ``lease_next`` and
``decision_submit``.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from labeling.models import (
    AuditEvent,
    Decision,
    DecisionKind,
    GoldenItem,
    Item,
    ItemStatus,
    Lease,
    LeaseState,
    Policy,
    QualityAlert,
    Queue,
    Retraction,
    Skip,
)
from labeling.roles import POLICY_OWNER_ROLES, can_adjudicate, has_any_role
from reviewtool.celery import enqueue
from reviewtool.exceptions import Conflict, Forbidden, ValidationFailed

# Accuracy alerts look at this many days of golden answers (or fewer, since the last
# acknowledged alert of the same reviewer and policy).
ALERT_WINDOW_DAYS = 30
OPEN_STATUSES = (ItemStatus.PENDING, ItemStatus.IN_REVIEW)


def _audit(*, actor: Any, action: str, obj: Any, data: Mapping[str, Any]) -> AuditEvent:
    # services.audit_record, repeated here because services imports this module.
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=str(obj.pk),
        data=dict(data),
    )


def min_golden_answers() -> int:
    """Golden answers a reviewer needs on a policy before an accuracy alert may fire."""
    return int(settings.REVIEWTOOL_GOLDEN_MIN_ANSWERS)


def is_golden(item_id: int) -> bool:
    return GoldenItem.objects.filter(item_id=item_id).exists()


# --- curation ------------------------------------------------------------------------------------


def golden_add(*, item: Item, expected: Mapping[str, str], actor: Any) -> GoldenItem:
    """Make ``item`` golden with the ``expected`` verdicts ({policy slug: label}), or update them.

    The item's overlap slots close (a golden item is served through slots of its own), and a
    resolved item goes back to pending, so that a served honeypot looks like any other item.
    Items waiting for a senior reviewer must be adjudicated first.
    """
    if not can_adjudicate(actor):
        raise Forbidden("Only senior reviewers, leads and admins curate golden items.")
    with transaction.atomic():
        item = Item.objects.select_for_update().select_related("queue").get(pk=item.pk)
        clean = _validate_expected(queue=item.queue, expected=expected)
        if item.status in (ItemStatus.ADJUDICATION, ItemStatus.ESCALATED):
            raise Conflict(
                "This item waits for a senior reviewer; adjudicate it first.",
                {"status": item.status},
            )
        golden, created = GoldenItem.objects.update_or_create(
            item=item,
            defaults={
                "expected": clean,
                "active": True,
                "added_by": actor if getattr(actor, "is_authenticated", False) else None,
            },
        )
        if created:
            Lease.objects.filter(item=item).exclude(state=LeaseState.DONE).update(
                state=LeaseState.DONE, token=None, expires_at=None
            )
            if item.status not in OPEN_STATUSES:
                item.status = ItemStatus.PENDING
                item.save(update_fields=["status"])
        _audit(
            actor=actor,
            action="golden.add" if created else "golden.update",
            obj=golden,
            data={"item": item.pk, "expected": clean},
        )
    return golden


def _validate_expected(*, queue: Queue, expected: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(expected, Mapping) or not expected:
        raise ValidationFailed(
            "expected must be a non-empty object {policy: label}.", {"fields": {}}
        )
    policies = {policy.slug: policy for policy in queue.policies.all()}
    errors: dict[str, str] = {}
    for slug, value in expected.items():
        policy = policies.get(str(slug))
        if policy is None:
            errors[str(slug)] = "This item's queue does not review this policy."
        elif value not in policy.labels:
            errors[str(slug)] = f"Must be one of {policy.labels}."
    if errors:
        raise ValidationFailed("Invalid expected verdicts.", {"fields": errors})
    return {str(slug): str(value) for slug, value in expected.items()}


@dataclass(frozen=True)
class GoldenRow:
    """One line of a golden-set file: which item, and its expected verdicts."""

    source: str
    external_id: str
    expected: Mapping[str, str]


@dataclass(frozen=True)
class GoldenImportResult:
    added: int
    updated: int


def golden_import(*, rows: Sequence[GoldenRow], actor: Any) -> GoldenImportResult:
    """Make many existing items golden at once, all or nothing.

    Every row must name an existing item (by source and external id) with valid expected
    verdicts; otherwise nothing is stored and ``ValidationFailed`` lists the bad rows by index.
    """
    if not can_adjudicate(actor):
        raise Forbidden("Only senior reviewers, leads and admins curate golden items.")
    added = updated = 0
    errors: dict[str, Any] = {}
    with transaction.atomic():
        for index, row in enumerate(rows):
            item = (
                Item.objects.filter(source=row.source, external_id=row.external_id)
                .select_related("queue")
                .first()
            )
            if item is None:
                errors[str(index)] = f"No item {row.source}:{row.external_id}."
                continue
            existed = GoldenItem.objects.filter(item=item).exists()
            try:
                with transaction.atomic():
                    golden_add(item=item, expected=row.expected, actor=actor)
            except (ValidationFailed, Conflict) as error:
                errors[str(index)] = {"message": error.message, **error.extra}
                continue
            updated += int(existed)
            added += int(not existed)
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise ValidationFailed("Some rows are invalid; nothing was stored.", {"rows": errors})
    return GoldenImportResult(added=added, updated=updated)


# --- serving -------------------------------------------------------------------------------------


def golden_slot_for(*, queue: Queue, reviewer: Any, now: datetime) -> Lease | None:
    """A free slot of a golden item for ``reviewer``, when their honeypot share is due.

    Called by ``services.lease_next`` inside its transaction; the caller leases the slot. None
    when the queue serves no honeypots, the share is not due, or no golden item is left that the
    reviewer has not answered, skipped or holds.
    """
    if queue.golden_share <= 0 or not _golden_due(queue=queue, reviewer=reviewer, now=now):
        return None
    golden = _next_golden(queue=queue, reviewer=reviewer, now=now)
    if golden is None:
        return None
    return _free_golden_slot(item_id=golden.item_id, queue=queue, now=now)


def _golden_due(*, queue: Queue, reviewer: Any, now: datetime) -> bool:
    is_golden_item = Q(item__golden__isnull=False)
    decided = (
        Decision.objects.filter(reviewer=reviewer, kind=DecisionKind.REVIEW, item__queue=queue)
        .exclude(Exists(Retraction.objects.filter(decision=OuterRef("pk"))))
        .aggregate(total=Count("id"), golden=Count("id", filter=is_golden_item))
    )
    held = Lease.objects.filter(
        queue=queue, reviewer=reviewer, state=LeaseState.LEASED, expires_at__gt=now
    ).aggregate(total=Count("id"), golden=Count("id", filter=is_golden_item))
    # Served so far = decided + held on screen (the prefetch asks before the first is decided).
    served = decided["total"] + held["total"]
    golden = decided["golden"] + held["golden"]
    return bool(golden < queue.golden_share * (served + 1))


def _next_golden(*, queue: Queue, reviewer: Any, now: datetime) -> GoldenItem | None:
    answers = (
        Decision.objects.filter(item=OuterRef("item"))
        .order_by()
        .values("item")
        .annotate(n=Count("id"))
        .values("n")
    )
    # The least answered first, so that every golden item gathers answers.
    return (
        GoldenItem.objects.filter(active=True, item__queue=queue, item__status__in=OPEN_STATUSES)
        .exclude(Exists(Decision.objects.filter(item=OuterRef("item"), reviewer=reviewer)))
        .exclude(Exists(Skip.objects.filter(item=OuterRef("item"), reviewer=reviewer)))
        .exclude(
            Exists(
                Lease.objects.filter(
                    item=OuterRef("item"),
                    reviewer=reviewer,
                    state=LeaseState.LEASED,
                    expires_at__gt=now,
                )
            )
        )
        .annotate(answers=Coalesce(Subquery(answers, output_field=IntegerField()), 0))
        .order_by("answers", "item_id")
        .first()
    )


def _free_golden_slot(*, item_id: int, queue: Queue, now: datetime) -> Lease:
    # The item row lock serialises slot numbering between reviewers served the same item.
    item = Item.objects.select_for_update().get(pk=item_id)
    reusable = (
        Lease.objects.filter(item=item)
        .filter(
            Q(state=LeaseState.OPEN) | Q(state=LeaseState.LEASED, expires_at__lte=now),
        )
        .order_by("slot")
        .first()
    )
    if reusable is not None:
        return reusable
    last = Lease.objects.filter(item=item).aggregate(last=Max("slot"))["last"]
    return Lease.objects.create(
        item=item,
        slot=0 if last is None else last + 1,
        queue=queue,
        priority=item.priority,
        received_at=item.received_at,
    )


# --- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldenScore:
    """One answer to a golden item: per policy of ``expected``, whether the verdict matched."""

    decision_id: int
    correct: dict[str, bool]


def golden_score_decision(*, decision: Decision) -> GoldenScore | None:
    """Score a review decision on an active golden item; None for any other decision.

    Records the score in the audit log and, after commit, enqueues the accuracy check of the
    reviewer on each scored policy.
    """
    if decision.kind != DecisionKind.REVIEW or decision.reviewer_id is None:
        return None
    golden = GoldenItem.objects.filter(item_id=decision.item_id, active=True).first()
    if golden is None:
        return None
    correct = {
        slug: decision.verdicts.get(slug) == value for slug, value in golden.expected.items()
    }
    _audit(
        actor=decision.reviewer,
        action="golden.answer",
        obj=decision,
        data={"item": decision.item_id, "golden": golden.pk, "correct": correct},
    )
    reviewer_id = int(decision.reviewer_id)
    for policy_id in Policy.objects.filter(slug__in=list(correct)).values_list("id", flat=True):
        transaction.on_commit(
            functools.partial(enqueue, "labeling.check_reviewer_accuracy", reviewer_id, policy_id)
        )
    return GoldenScore(decision_id=decision.pk, correct=correct)


def golden_answers(
    *,
    reviewer_id: int | None = None,
    queue: Queue | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Decision]:
    """Review decisions that answer an active golden item and count towards accuracy."""
    answers = (
        Decision.objects.filter(
            kind=DecisionKind.REVIEW,
            reviewer__isnull=False,
            item__golden__active=True,
            # Verdicts given before the item became golden were not honeypot answers.
            created_at__gte=F("item__golden__created_at"),
        )
        .exclude(Exists(Retraction.objects.filter(decision=OuterRef("pk"))))
        .order_by("created_at", "id")
    )
    if reviewer_id is not None:
        answers = answers.filter(reviewer_id=reviewer_id)
    if queue is not None:
        answers = answers.filter(item__queue=queue)
    if since is not None:
        answers = answers.filter(created_at__gte=since)
    if until is not None:
        answers = answers.filter(created_at__lt=until)
    return answers


@dataclass(frozen=True)
class ScoredAnswer:
    reviewer_id: int
    reviewer: str
    policy: str
    correct: bool
    created_at: datetime


def scored_answers(
    *,
    reviewer_id: int | None = None,
    policy: Policy | None = None,
    queue: Queue | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[ScoredAnswer]:
    """Every golden answer, one row per policy of the item's ``expected``, oldest first."""
    rows = golden_answers(reviewer_id=reviewer_id, queue=queue, since=since, until=until)
    result = []
    for reviewer, username, verdicts, expected, created_at in rows.values_list(
        "reviewer_id", "reviewer__username", "verdicts", "item__golden__expected", "created_at"
    ):
        for slug, value in (expected or {}).items():
            if policy is not None and slug != policy.slug:
                continue
            result.append(
                ScoredAnswer(
                    reviewer_id=reviewer,
                    reviewer=username,
                    policy=slug,
                    correct=(verdicts or {}).get(slug) == value,
                    created_at=created_at,
                )
            )
    return result


@dataclass(frozen=True)
class Accuracy:
    """A reviewer's share of correct golden answers on one policy (None without answers)."""

    reviewer_id: int
    reviewer: str
    policy: str
    correct: int
    answers: int

    @property
    def value(self) -> float | None:
        return self.correct / self.answers if self.answers else None


def accuracy_from(answers: Sequence[ScoredAnswer]) -> list[Accuracy]:
    """Accuracy per (reviewer, policy) of the given answers, by reviewer name then policy."""
    counts: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for answer in answers:
        entry = counts[(answer.reviewer_id, answer.reviewer, answer.policy)]
        entry[0] += int(answer.correct)
        entry[1] += 1
    return [
        Accuracy(reviewer_id=key[0], reviewer=key[1], policy=key[2], correct=c, answers=n)
        for key, (c, n) in sorted(counts.items(), key=lambda pair: (pair[0][1], pair[0][2]))
    ]


def reviewer_accuracy(
    *,
    reviewer_id: int | None = None,
    policy: Policy | None = None,
    queue: Queue | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Accuracy]:
    """Accuracy on golden items per reviewer and policy over ``[since, until)``."""
    return accuracy_from(
        scored_answers(
            reviewer_id=reviewer_id, policy=policy, queue=queue, since=since, until=until
        )
    )


# --- alerts --------------------------------------------------------------------------------------


def reviewer_accuracy_check(*, reviewer_id: int, policy_id: int) -> QualityAlert | None:
    """Open a quality alert when a reviewer's recent golden accuracy on a policy is too low.

    "Recent" is the last :data:`ALERT_WINDOW_DAYS` days, or since the last acknowledged alert of
    the same reviewer and policy when that is later (an acknowledged alert starts a fresh count).
    Needs at least ``REVIEWTOOL_GOLDEN_MIN_ANSWERS`` answers. At most one alert per reviewer and
    policy is open; the policy row lock keeps two concurrent checks from opening two.
    """
    now = timezone.now()
    with transaction.atomic():
        policy = Policy.objects.select_for_update().filter(pk=policy_id).first()
        if policy is None:
            return None
        alerts = QualityAlert.objects.filter(reviewer_id=reviewer_id, policy=policy)
        if alerts.filter(acknowledged_at__isnull=True).exists():
            return None
        since = now - timedelta(days=ALERT_WINDOW_DAYS)
        acknowledged = alerts.aggregate(last=Max("acknowledged_at"))["last"]
        if acknowledged is not None and acknowledged > since:
            since = acknowledged
        found = reviewer_accuracy(reviewer_id=reviewer_id, policy=policy, since=since)
        if not found:
            return None
        accuracy = found[0]
        value = accuracy.value
        if (
            value is None
            or accuracy.answers < min_golden_answers()
            or value >= policy.min_reviewer_accuracy
        ):
            return None
        alert = QualityAlert.objects.create(
            reviewer_id=reviewer_id,
            policy=policy,
            accuracy=value,
            threshold=policy.min_reviewer_accuracy,
            golden_answers=accuracy.answers,
        )
        _audit(
            actor=None,
            action="quality.alert",
            obj=alert,
            data={
                "reviewer": accuracy.reviewer,
                "policy": policy.slug,
                "accuracy": value,
                "threshold": policy.min_reviewer_accuracy,
                "golden_answers": accuracy.answers,
            },
        )
    return alert


def quality_alert_acknowledge(*, alert: QualityAlert, actor: Any) -> QualityAlert:
    """A lead or admin marks an alert as seen; later answers are measured afresh."""
    if not has_any_role(actor, POLICY_OWNER_ROLES):
        raise Forbidden("Only leads and admins acknowledge quality alerts.")
    with transaction.atomic():
        alert = QualityAlert.objects.select_for_update().get(pk=alert.pk)
        if alert.acknowledged_at is not None:
            raise Conflict("This alert was already acknowledged.")
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged_at"])
        _audit(
            actor=actor,
            action="quality.alert.acknowledge",
            obj=alert,
            data={"reviewer": alert.reviewer_id, "policy": alert.policy_id},
        )
    return alert
