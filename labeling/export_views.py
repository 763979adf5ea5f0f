"""The Exports page: leads and admins request a dataset export and download past ones.

Exports run inside the request (synchronously); the page says that large ones belong in
``manage.py export_dataset``. Files are downloaded through the API's download endpoint, which
the session authenticates.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from labeling.export import (
    DEFAULT_SPLITS,
    ExportFilters,
    ExportSpec,
    can_export,
    dataset_export_to_store,
    parse_day,
    parse_splits,
)
from labeling.models import DatasetExport, ExportFormat, LabelSource, Policy, Queue
from reviewtool.exceptions import ApplicationError, ValidationFailed

RECENT_EXPORTS = 50


@require_http_methods(["GET", "POST"])
@login_required
def exports_page(request: HttpRequest) -> HttpResponse:
    if not can_export(request.user):
        raise PermissionDenied("Only leads and admins export datasets.")
    if request.method == "POST":
        try:
            export = dataset_export_to_store(spec=_spec_from_form(request.POST), actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, f"Export {export.pk}: {export.row_count} labels ({export.format})."
            )
        return redirect("exports")
    context: dict[str, Any] = {
        "nav": "exports",
        "exports": DatasetExport.objects.select_related("created_by").order_by(
            "-created_at", "-id"
        )[:RECENT_EXPORTS],
        "formats": ExportFormat.choices,
        "sources": LabelSource.values,
        "policies": Policy.objects.order_by("slug").values_list("slug", "name"),
        "queues": Queue.objects.order_by("slug").values_list("slug", "name"),
        "default_splits": ",".join(f"{value:g}" for value in DEFAULT_SPLITS),
    }
    return render(request, "labeling/exports.html", context)


def _spec_from_form(form: QueryDict) -> ExportSpec:
    min_agreement = form.get("min_agreement", "").strip()
    seed = form.get("seed", "").strip() or "0"
    try:
        agreement_value = float(min_agreement) if min_agreement else None
        seed_value = int(seed)
    except ValueError as error:
        raise ValidationFailed("Minimum agreement and seed must be numbers.") from error
    return ExportSpec(
        format=form.get("format", ""),
        filters=ExportFilters(
            policies=tuple(form.getlist("policies")),
            since=parse_day(form.get("since"), name="since"),
            until=parse_day(form.get("until"), name="until"),
            sources=tuple(form.getlist("sources")),
            min_agreement=agreement_value,
            golden_only=form.get("golden_only") == "on",
            queue=form.get("queue") or None,
        ),
        splits=parse_splits(form.get("splits") or None),
        seed=seed_value,
        with_decisions=form.get("with_decisions") == "on",
    )
