"""Reads for label quality: agreement per policy, queue and reviewer pair; golden accuracy over
time; the adjudication backlog; suspected label errors.

Agreement is computed by :mod:`labeling.agreement` over review and import decisions that were not
undone, on items that are not golden (golden answers are measured by accuracy instead). The unit
of agreement is one review round of one item: a re-reviewed item is rated afresh. Verdicts
outside the policy's current label set (from older policy versions) are left out.

Raters are reviewer accounts, and imported anonymous coders keyed by ``anonymous_reviewer``
(e.g. "davidson:1"). Those ids are positions per imported item, not persons: "davidson:1" on two
tweets may be two different people. They count as distinct raters within an item (which is all
Fleiss' kappa and Krippendorff's alpha need) but never form a reviewer pair for Cohen's kappa.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import combinations
from typing import Any

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from labeling import golden
from labeling.agreement import (
    Agreement,
    RatingTable,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    ratings_from_rows,
)
from labeling.models import (
    Decision,
    DecisionKind,
    Item,
    ItemStatus,
    Policy,
    QualityAlert,
    Queue,
    Retraction,
)

FLEISS = "fleiss_kappa"
ALPHA_NOMINAL = "krippendorff_alpha_nominal"
ALPHA_ORDINAL = "krippendorff_alpha_ordinal"
COHEN = "cohen_kappa"
MEASURES = (FLEISS, ALPHA_NOMINAL, ALPHA_ORDINAL, COHEN)
COUNTED_KINDS = (DecisionKind.REVIEW, DecisionKind.IMPORT)


def _not_defined(reason: str, *, n_items: int, n_raters: int) -> Agreement:
    return Agreement(
        value=None,
        n_items=n_items,
        n_raters=n_raters,
        defined=False,
        reason=f"not defined: {reason}",
    )


# --- ratings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    """One rater's verdict on one unit (item id, review round) under one policy."""

    unit: tuple[int, int]
    rater: Hashable  # a user id, or "anonymous:<id>" for an imported coder
    person: str | None  # the username of an account; None for anonymous coders
    value: str
    created_at: datetime


def counted_decisions(
    *,
    policy: Policy,
    queue: Queue | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Decision]:
    """Decisions that agreement counts for ``policy`` in ``[since, until)``."""
    decisions = (
        Decision.objects.filter(kind__in=COUNTED_KINDS, item__queue__policies=policy)
        .filter(item__golden__isnull=True)
        .exclude(Exists(Retraction.objects.filter(decision=OuterRef("pk"))))
    )
    if queue is not None:
        decisions = decisions.filter(item__queue=queue)
    if since is not None:
        decisions = decisions.filter(created_at__gte=since)
    if until is not None:
        decisions = decisions.filter(created_at__lt=until)
    return decisions.order_by("id")


def policy_ratings(
    *,
    policy: Policy,
    queue: Queue | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Rating]:
    """One rating per (unit, rater), the latest when a rater decided a unit twice."""
    labels = set(policy.labels)
    latest: dict[tuple[tuple[int, int], Hashable], Rating] = {}
    rows = counted_decisions(policy=policy, queue=queue, since=since, until=until).values_list(
        "item_id",
        "review_round",
        "reviewer_id",
        "reviewer__username",
        "anonymous_reviewer",
        "verdicts",
        "created_at",
    )
    for item_id, review_round, reviewer_id, username, anonymous, verdicts, created_at in rows:
        value = (verdicts or {}).get(policy.slug)
        if value not in labels:
            continue
        rater: Hashable = reviewer_id if reviewer_id is not None else f"anonymous:{anonymous}"
        unit = (item_id, review_round)
        latest[(unit, rater)] = Rating(
            unit=unit,
            rater=rater,
            person=username if reviewer_id is not None else None,
            value=str(value),
            created_at=created_at,
        )
    return list(latest.values())


def _table(ratings: Iterable[Rating], policy: Policy) -> RatingTable:
    return ratings_from_rows(
        ((rating.unit, rating.rater, rating.value) for rating in ratings),
        categories=list(policy.labels),
    )


# --- agreement -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairAgreement:
    rater_a: str
    rater_b: str
    agreement: Agreement


@dataclass(frozen=True)
class PolicyAgreement:
    """Agreement on one policy over one scope: the measures by name, and reviewer pairs."""

    policy: Policy
    queue: Queue | None
    n_ratings: int
    measures: dict[str, Agreement] = field(default_factory=dict)
    pairs: list[PairAgreement] = field(default_factory=list)


def measures_for(policy: Policy) -> tuple[str, ...]:
    """The measures that mean something for ``policy`` (ordinal alpha only on ordinal scales)."""
    return tuple(name for name in MEASURES if name != ALPHA_ORDINAL or policy.ordinal)


def policy_agreement(
    *,
    policy: Policy,
    queue: Queue | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    measures: Sequence[str] | None = None,
) -> PolicyAgreement:
    """Agreement on ``policy`` (in ``queue`` when given) over ``[since, until)``."""
    wanted = [name for name in (measures or MEASURES) if name in measures_for(policy)]
    ratings = policy_ratings(policy=policy, queue=queue, since=since, until=until)
    table = _table(ratings, policy)
    result = PolicyAgreement(policy=policy, queue=queue, n_ratings=len(ratings))
    for name in wanted:
        if name == FLEISS:
            result.measures[name] = fleiss(table)
        elif name == ALPHA_NOMINAL:
            result.measures[name] = alpha(table, level="nominal")
        elif name == ALPHA_ORDINAL:
            result.measures[name] = alpha(table, level="ordinal")
        elif name == COHEN:
            result.pairs.extend(reviewer_pairs(table, ratings))
    return result


def fleiss(table: RatingTable) -> Agreement:
    """Fleiss' kappa over the units rated by two or more raters.

    A unit with one rating says nothing about agreement and is left out; the rest must all have
    the same number of raters, or the value is not defined (raters per item vary).
    """
    if table.n_raters < 2:
        return _not_defined("fewer than two raters", n_items=table.n_items, n_raters=table.n_raters)
    counts = table.category_counts()
    counts = counts[counts.sum(axis=1) >= 2]
    if counts.shape[0] == 0:
        return _not_defined(
            "no item was rated by two or more raters", n_items=0, n_raters=table.n_raters
        )
    if np.unique(counts.sum(axis=1)).size > 1:
        return _not_defined(
            "raters per item vary (Fleiss' kappa needs the same number on every item)",
            n_items=int(counts.shape[0]),
            n_raters=int(counts.sum(axis=1).max()),
        )
    return fleiss_kappa(counts)


def alpha(table: RatingTable, *, level: str) -> Agreement:
    """Krippendorff's alpha at ``level`` ("nominal" or "ordinal", on the label order)."""
    if table.n_raters < 2:
        return _not_defined("fewer than two raters", n_items=table.n_items, n_raters=table.n_raters)
    if level == "ordinal":
        return krippendorff_alpha(table.reliability_data(), level="ordinal")
    return krippendorff_alpha(table.reliability_data(), level="nominal")


def reviewer_pairs(table: RatingTable, ratings: Sequence[Rating]) -> list[PairAgreement]:
    """Cohen's kappa of every two reviewer accounts that rated at least two units in common."""
    names = {rating.rater: rating.person for rating in ratings if rating.person is not None}
    matrix = table.code_matrix()
    rows = sorted(
        (index for index, rater in enumerate(table.raters) if rater in names),
        key=lambda index: str(names[table.raters[index]]),
    )
    pairs = []
    for a, b in combinations(rows, 2):
        shared = (matrix[a] >= 0) & (matrix[b] >= 0)
        if int(shared.sum()) < 2:
            continue
        left = [table.categories[code] for code in matrix[a][shared]]
        right = [table.categories[code] for code in matrix[b][shared]]
        pairs.append(
            PairAgreement(
                rater_a=str(names[table.raters[a]]),
                rater_b=str(names[table.raters[b]]),
                agreement=cohen_kappa(left, right, categories=list(table.categories)),
            )
        )
    return pairs


def agreement_overview(
    *,
    policies: Iterable[Policy],
    queue: Queue | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    measures: Sequence[str] | None = None,
) -> list[PolicyAgreement]:
    return [
        policy_agreement(policy=policy, queue=queue, since=since, until=until, measures=measures)
        for policy in policies
    ]


# --- over time -----------------------------------------------------------------------------------


def week_start(moment: datetime) -> date:
    """The Monday of the (local) week of ``moment``."""
    day = timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date()
    return day - timedelta(days=day.weekday())


def weeks_between(since: datetime, until: datetime) -> list[date]:
    first, last = week_start(since), week_start(until - timedelta(microseconds=1))
    count = (last - first).days // 7 + 1
    return [first + timedelta(weeks=index) for index in range(max(count, 0))]


@dataclass(frozen=True)
class WeekAgreement:
    week: date
    agreement: Agreement


def agreement_by_week(
    *, policy: Policy, since: datetime, until: datetime, queue: Queue | None = None
) -> list[WeekAgreement]:
    """Krippendorff's alpha (nominal) per week; a unit belongs to the week of its last rating."""
    ratings = policy_ratings(policy=policy, queue=queue, since=since, until=until)
    last_rated: dict[tuple[int, int], datetime] = {}
    for rating in ratings:
        if rating.unit not in last_rated or rating.created_at > last_rated[rating.unit]:
            last_rated[rating.unit] = rating.created_at
    by_week: dict[date, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_week[week_start(last_rated[rating.unit])].append(rating)
    return [
        WeekAgreement(week=week, agreement=alpha(_table(by_week[week], policy), level="nominal"))
        for week in weeks_between(since, until)
    ]


@dataclass(frozen=True)
class AccuracyTrend:
    """A reviewer's golden accuracy on one policy: all time, the last 30 days, and per week."""

    reviewer_id: int
    reviewer: str
    policy: str
    all_time: golden.Accuracy
    last_30_days: golden.Accuracy | None
    weeks: list[tuple[date, golden.Accuracy | None]]
    open_alert: QualityAlert | None


def accuracy_trends(
    *, policy: Policy | None = None, now: datetime | None = None, weeks: int = 8
) -> list[AccuracyTrend]:
    """Golden accuracy per reviewer and policy, with the ``weeks`` most recent weekly buckets."""
    now = now or timezone.now()
    answers = golden.scored_answers(policy=policy)
    recent_since = now - timedelta(days=30)
    week_list = weeks_between(now - timedelta(weeks=weeks - 1), now)
    alerts = {
        (alert.reviewer_id, alert.policy.slug): alert
        for alert in QualityAlert.objects.filter(acknowledged_at__isnull=True).select_related(
            "policy"
        )
    }
    grouped: dict[tuple[int, str], list[golden.ScoredAnswer]] = defaultdict(list)
    for answer in answers:
        grouped[(answer.reviewer_id, answer.policy)].append(answer)
    trends = []
    for (reviewer_id, slug), rows in grouped.items():
        [all_time] = golden.accuracy_from(rows)
        recent = golden.accuracy_from([row for row in rows if row.created_at >= recent_since])
        per_week: dict[date, list[golden.ScoredAnswer]] = defaultdict(list)
        for row in rows:
            per_week[week_start(row.created_at)].append(row)
        trends.append(
            AccuracyTrend(
                reviewer_id=reviewer_id,
                reviewer=all_time.reviewer,
                policy=slug,
                all_time=all_time,
                last_30_days=recent[0] if recent else None,
                weeks=[
                    (week, golden.accuracy_from(per_week[week])[0] if per_week[week] else None)
                    for week in week_list
                ],
                open_alert=alerts.get((reviewer_id, slug)),
            )
        )
    return sorted(trends, key=lambda trend: (trend.reviewer, trend.policy))


def open_alerts() -> QuerySet[QualityAlert]:
    return QualityAlert.objects.filter(acknowledged_at__isnull=True).select_related(
        "reviewer", "policy"
    )


# --- backlog and label errors --------------------------------------------------------------------


def adjudication_backlog_counts() -> list[dict[str, Any]]:
    """Per queue with any: items waiting for adjudication and escalated items."""
    rows = (
        Queue.objects.annotate(
            adjudication=Count("items", filter=Q(items__status=ItemStatus.ADJUDICATION)),
            escalated=Count("items", filter=Q(items__status=ItemStatus.ESCALATED)),
        )
        .filter(Q(adjudication__gt=0) | Q(escalated__gt=0))
        .order_by("slug")
    )
    return [
        {"queue": queue, "adjudication": queue.adjudication, "escalated": queue.escalated}
        for queue in rows
    ]


def suspected_label_errors() -> list[dict[str, Any]]:
    """Items sent back for re-review (``Item.reopen_reason`` set), by queue and reason, with how
    many of them still wait for their new round of reviews."""
    rows = (
        Item.objects.exclude(reopen_reason="")
        .values("queue_id", "queue__slug", "queue__name", "reopen_reason")
        .annotate(
            count=Count("id"),
            open=Count("id", filter=Q(status__in=(ItemStatus.PENDING, ItemStatus.IN_REVIEW))),
        )
        .order_by("queue__slug", "reopen_reason")
    )
    return [
        {
            "queue_slug": row["queue__slug"],
            "queue_name": row["queue__name"],
            "reason": row["reopen_reason"],
            "count": row["count"],
            "open": row["open"],
        }
        for row in rows
    ]
