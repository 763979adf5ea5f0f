"""The label quality page for leads and admins: agreement over time, honeypot accuracy with its
alerts, the adjudication backlog and suspected label errors.

Everything is rendered on the server (tables and a small SVG chart); the page has no script, and
the CSP forbids inline style, so the chart's geometry is in SVG attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from labeling import golden
from labeling import quality as label_quality
from labeling.models import Policy, QualityAlert, Queue
from labeling.roles import can_see_quality
from reviewtool.exceptions import ApplicationError

DEFAULT_WEEKS = 8
CHART_BAR = 28
CHART_GAP = 8
CHART_ZERO = 90  # y of the zero line; alpha 1 reaches y = 10, alpha -1 reaches y = 120
CHART_HEIGHT = 130


@dataclass(frozen=True)
class Bar:
    week: date
    value: float | None
    n_items: int
    reason: str
    x: int
    y: int
    height: int


def _bars(weeks: list[label_quality.WeekAgreement]) -> list[Bar]:
    bars = []
    for index, entry in enumerate(weeks):
        value = entry.agreement.value
        x = CHART_GAP + index * (CHART_BAR + CHART_GAP)
        if value is None:
            y, height = CHART_ZERO - 1, 1
        elif value >= 0:
            height = max(1, round(min(value, 1.0) * 80))
            y = CHART_ZERO - height
        else:
            y, height = CHART_ZERO, max(1, round(min(-value, 1.0) * 30))
        bars.append(
            Bar(
                week=entry.week,
                value=value,
                n_items=entry.agreement.n_items,
                reason=entry.agreement.reason,
                x=x,
                y=y,
                height=height,
            )
        )
    return bars


def _period(request: HttpRequest) -> tuple[datetime, datetime]:
    """``since`` and ``until`` (dates, until inclusive) from the query; the last 8 weeks else."""
    today = timezone.localdate()
    until_day = _date(request.GET.get("until")) or today
    since_day = _date(request.GET.get("since")) or until_day - timedelta(weeks=DEFAULT_WEEKS)
    if since_day > until_day:
        since_day = until_day
    zone = timezone.get_current_timezone()
    since = datetime.combine(since_day, time.min, tzinfo=zone)
    until = datetime.combine(until_day + timedelta(days=1), time.min, tzinfo=zone)
    return since, until


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@require_GET
@login_required
def quality_page(request: HttpRequest) -> HttpResponse:
    if not can_see_quality(request.user):
        raise PermissionDenied("Only leads and admins see label quality.")
    since, until = _period(request)
    policies = list(Policy.objects.order_by("slug"))
    queues = list(Queue.objects.prefetch_related("policies").order_by("slug"))
    context: dict[str, Any] = {
        "nav": "quality",
        "since": since.date(),
        "until": (until - timedelta(days=1)).date(),
        "agreement": label_quality.agreement_overview(policies=policies, since=since, until=until),
        "per_queue": [
            (
                queue,
                label_quality.agreement_overview(
                    policies=queue.policies.all(),
                    queue=queue,
                    since=since,
                    until=until,
                    measures=(
                        label_quality.FLEISS,
                        label_quality.ALPHA_NOMINAL,
                        label_quality.ALPHA_ORDINAL,
                    ),
                ),
            )
            for queue in queues
        ],
        "weekly": [
            {
                "policy": policy,
                "bars": _bars(
                    label_quality.agreement_by_week(policy=policy, since=since, until=until)
                ),
            }
            for policy in policies
        ],
        "chart_height": CHART_HEIGHT,
        "chart_zero": CHART_ZERO,
        "chart_bar": CHART_BAR,
        "trends": label_quality.accuracy_trends(),
        "alerts": list(label_quality.open_alerts()),
        "backlog": label_quality.adjudication_backlog_counts(),
        "label_errors": label_quality.suspected_label_errors(),
        "min_answers": golden.min_golden_answers(),
    }
    context["chart_width"] = CHART_GAP + len(context["weekly"][0]["bars"] if policies else []) * (
        CHART_BAR + CHART_GAP
    )
    return render(request, "labeling/quality.html", context)


@require_POST
@login_required
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    if not can_see_quality(request.user):
        raise PermissionDenied("Only leads and admins acknowledge quality alerts.")
    alert = get_object_or_404(
        QualityAlert.objects.select_related("reviewer", "policy"), pk=alert_id
    )
    try:
        golden.quality_alert_acknowledge(alert=alert, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"Alert on {alert.reviewer.get_username()} ({alert.policy.slug}) acknowledged."
        )
    return redirect("quality")
