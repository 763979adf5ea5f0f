"""What every page's navigation needs to know about the user."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from labeling.export import can_export
from labeling.roles import can_adjudicate, can_see_quality, sees_all_queues


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "can_adjudicate": can_adjudicate(user),
        # ML engineers, leads and admins reach the ML page.
        "can_see_ml": sees_all_queues(user),
        # Leads and admins reach the label quality page.
        "can_see_quality": can_see_quality(user),
        # Leads and admins export datasets.
        "can_export": can_export(user),
    }
