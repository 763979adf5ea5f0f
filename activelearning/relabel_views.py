"""The policy-versions page: labels per policy version, how many predate the current one, how
many of those the champion disagrees with, and a button that queues those for relabelling."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from activelearning import relabel
from labeling import policy_versions
from labeling.models import Policy, Roles
from labeling.roles import POLICY_OWNER_ROLES, has_any_role, sees_all_queues


@require_http_methods(["GET", "POST"])
@login_required
def policy_versions_page(request: HttpRequest, slug: str) -> HttpResponse:
    if not sees_all_queues(request.user):
        raise PermissionDenied("Policy versions are for ML engineers, leads and admins.")
    policy = get_object_or_404(Policy, slug=slug)
    is_owner = has_any_role(request.user, POLICY_OWNER_ROLES)
    if request.method == "POST":
        if not is_owner:
            raise PermissionDenied(f"Only a {Roles.LEAD} or an {Roles.ADMIN} queues relabelling.")
        result = relabel.disagreements_reopen(policy=policy, actor=request.user)
        messages.success(
            request,
            f"{len(result.reopened)} item(s) queued for review under "
            f"{policy_versions.relabel_reason(policy)}; {len(result.skipped)} skipped "
            "(not resolved right now).",
        )
        return redirect("policy-versions", slug=policy.slug)
    context = {
        "nav": "ml",
        "policy": policy,
        "versions": policy_versions.labels_per_version(policy=policy),
        "candidates": relabel.relabel_candidates(policy=policy),
        "can_queue": is_owner,
        "check_limit": relabel.RELABEL_CHECK_LIMIT,
    }
    return render(request, "labeling/policy_versions.html", context)
