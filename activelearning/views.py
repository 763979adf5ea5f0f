"""The ML page: model versions, champions, training runs with live progress, queue strategies."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from activelearning import selectors, services
from activelearning.models import ModelVersion, RunTrigger
from activelearning.strategies import STRATEGIES
from labeling.models import Policy, Queue
from labeling.roles import sees_all_queues
from reviewtool.exceptions import ApplicationError

CHART_WIDTH = 320
CHART_HEIGHT = 120


def _require_ml_role(request: HttpRequest) -> None:
    if not sees_all_queues(request.user):
        raise PermissionDenied("The ML page is for ML engineers, leads and admins.")


def _chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """SVG coordinates for labels (x) vs macro-F1 (y, 0..1); built here so the page has no JS."""
    if not points:
        return {"points": "", "dots": []}
    most = max(point["labels"] for point in points) or 1
    dots = [
        {
            "x": round(10 + (CHART_WIDTH - 20) * point["labels"] / most, 1),
            "y": round(CHART_HEIGHT - 10 - (CHART_HEIGHT - 20) * point["macro_f1"], 1),
            **point,
        }
        for point in points
    ]
    return {"points": " ".join(f"{dot['x']},{dot['y']}" for dot in dots), "dots": dots}


@require_GET
@login_required
def ml_page(request: HttpRequest) -> HttpResponse:
    _require_ml_role(request)
    champions = selectors.champions()
    policies = [
        {
            "policy": policy,
            "champion": champions.get(policy.pk),
            "versions": list(selectors.model_versions(policy=policy)[:20]),
            "chart": _chart(selectors.learning_curve(policy=policy)),
        }
        for policy in Policy.objects.order_by("slug")
    ]
    context = {
        "nav": "ml",
        "policies": policies,
        "runs": list(selectors.training_runs()[:20]),
        "queues": selectors.queue_strategies(),
        "strategies": sorted(STRATEGIES),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
    }
    return render(request, "activelearning/ml.html", context)


@require_POST
@login_required
def retrain(request: HttpRequest, slug: str) -> HttpResponse:
    _require_ml_role(request)
    policy = get_object_or_404(Policy, slug=slug)
    run = services.training_run_request(
        policy=policy, trigger=RunTrigger.BUTTON, requested_by=request.user
    )
    messages.success(request, f"Training run {run.pk} for {policy.name} is {run.status}.")
    return redirect("ml")


@require_POST
@login_required
def promote(request: HttpRequest, version_id: int) -> HttpResponse:
    _require_ml_role(request)
    version = get_object_or_404(ModelVersion, pk=version_id)
    try:
        services.model_rollback(model_version=version, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Version {version.number} now serves {version.policy.name}.")
    return redirect("ml")


@require_POST
@login_required
def queue_strategy(request: HttpRequest, slug: str) -> HttpResponse:
    _require_ml_role(request)
    queue = get_object_or_404(Queue, slug=slug)
    try:
        share = float(request.POST.get("learning_share", ""))
    except ValueError:
        messages.error(request, "The learning share must be a number between 0 and 1.")
        return redirect("ml")
    try:
        services.queue_learning_update(
            queue=queue,
            strategy=request.POST.get("strategy") or None,
            learning_share=share,
            actor=request.user,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{queue.name} updated; it is re-ranked after the next rescore.")
    return redirect("ml")
