"""HTML pages of the human loop: the queue list, the review page and adjudication.

The review page is a shell; its script talks to the JSON API under ``/api/v1/``. Views stay thin:
they call selectors for reads and services for writes, and turn ``ApplicationError`` into a
message on the next page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from labeling import selectors, services
from labeling.rendering import guidelines_html
from labeling.roles import can_adjudicate
from reviewtool.exceptions import ApplicationError


@require_GET
@login_required
def queue_list(request: HttpRequest) -> HttpResponse:
    queues = selectors.queues_with_counts(request.user)
    return render(request, "labeling/queue_list.html", {"queues": queues, "nav": "queues"})


@require_GET
@login_required
@ensure_csrf_cookie
def review(request: HttpRequest, slug: str) -> HttpResponse:
    # A queue the user may not see is answered like one that does not exist.
    queue = get_object_or_404(selectors.queues_for_user(request.user), slug=slug)
    policies = [
        {"policy": policy, "guidelines_html": guidelines_html(policy.guidelines)}
        for policy in queue.policies.all()
    ]
    return render(
        request, "labeling/review.html", {"queue": queue, "policies": policies, "nav": "queues"}
    )


@require_GET
@login_required
def adjudication(request: HttpRequest) -> HttpResponse:
    if not can_adjudicate(request.user):
        raise PermissionDenied("Only senior reviewers, leads and admins adjudicate.")
    items = selectors.adjudication_backlog(request.user)
    return render(request, "labeling/adjudication.html", {"items": items, "nav": "adjudication"})


@require_POST
@login_required
def adjudicate_item(request: HttpRequest, item_id: int) -> HttpResponse:
    if not can_adjudicate(request.user):
        raise PermissionDenied("Only senior reviewers, leads and admins adjudicate.")
    item = get_object_or_404(selectors.items_for_user(request.user), pk=item_id)
    verdicts = {
        policy.slug: value
        for policy in item.queue.policies.all()
        if (value := request.POST.get(f"verdict-{policy.slug}", ""))
    }
    try:
        services.item_adjudicate(
            item=item,
            reviewer=request.user,
            verdicts=verdicts,
            note=request.POST.get("note", ""),
        )
    except ApplicationError as error:
        messages.error(request, f"{item.source}:{item.external_id}: {error.message}")
    else:
        messages.success(request, f"{item.source}:{item.external_id} adjudicated.")
    return redirect("adjudication")
