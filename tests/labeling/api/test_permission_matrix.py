"""Role x endpoint -> status. Every endpoint, every persona, one row each.

Personas: the five roles, an outsider (logged in, no role) and an anonymous caller. Where an
endpoint acts on the caller's own lease or decision, the setup gives each persona its own (an
outsider or anonymous caller, who cannot hold one, gets another reviewer's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import resolve

from labeling import services
from labeling.api import urls
from reviewtool.exceptions import Forbidden
from tests.factories import make_items

from .conftest import client_for, token_of

pytestmark = pytest.mark.django_db

ROLES = ("reviewer", "senior", "ml_engineer", "lead", "admin_user")
PERSONAS = (*ROLES, "outsider", "anonymous")
POLICY_OWNERS = ("lead", "admin_user")
DATA_WRITERS = ("ml_engineer", "lead", "admin_user")
ADJUDICATORS = ("senior", "lead", "admin_user")


@dataclass
class World:
    queue: Any
    items: list[Any]
    bystander: Any  # a reviewer of the queue who is not the caller
    escalated: Any


def _lease_of(world: World, user: Any) -> Any:
    """A live lease of ``user`` (or of the bystander when ``user`` cannot hold one)."""
    if user is not None:
        try:
            lease = services.lease_next(queue=world.queue, reviewer=user)
        except Forbidden:
            lease = None
        if lease is not None:
            return lease
    lease = services.lease_next(queue=world.queue, reviewer=world.bystander)
    assert lease is not None
    return lease


def _decision_of(world: World, user: Any) -> Any:
    lease = _lease_of(world, user)
    return services.decision_submit(
        token=lease.token, reviewer=lease.reviewer, verdicts={"hate": "violating"}
    )


Request = tuple[str, str, dict[str, Any] | None]


@dataclass(frozen=True)
class Endpoint:
    name: str
    route: str  # the URL name in labeling/api/urls.py
    request: Callable[[World, Any], Request]
    success: int
    allowed: tuple[str, ...] = ROLES

    def expected(self, persona: str) -> int:
        if persona == "anonymous":
            return 401
        return self.success if persona in self.allowed else 403


ENDPOINTS = [
    Endpoint("policies-list", "api-policies", lambda w, u: ("get", "/api/v1/policies/", None), 200),
    Endpoint(
        "policies-create",
        "api-policies",
        lambda w, u: ("post", "/api/v1/policies/", {"slug": "new", "name": "New"}),
        201,
        POLICY_OWNERS,
    ),
    Endpoint(
        "policy-detail", "api-policy", lambda w, u: ("get", "/api/v1/policies/hate/", None), 200
    ),
    Endpoint(
        "policy-update",
        "api-policy",
        lambda w, u: ("patch", "/api/v1/policies/hate/", {"name": "Renamed"}),
        200,
        POLICY_OWNERS,
    ),
    Endpoint("queues-list", "api-queues", lambda w, u: ("get", "/api/v1/queues/", None), 200),
    Endpoint(
        "queues-create",
        "api-queues",
        lambda w, u: (
            "post",
            "/api/v1/queues/",
            {"slug": "new", "name": "New", "policies": ["hate"]},
        ),
        201,
        POLICY_OWNERS,
    ),
    Endpoint("queue-detail", "api-queue", lambda w, u: ("get", "/api/v1/queues/main/", None), 200),
    Endpoint(
        "queue-next",
        "api-queue-next",
        lambda w, u: ("post", "/api/v1/queues/main/next/", None),
        200,
    ),
    Endpoint("items-list", "api-items", lambda w, u: ("get", "/api/v1/items/", None), 200),
    Endpoint(
        "items-create",
        "api-items",
        lambda w, u: (
            "post",
            "/api/v1/items/",
            {"queue": "main", "items": [{"external_id": "new"}]},
        ),
        201,
        DATA_WRITERS,
    ),
    Endpoint(
        "item-detail",
        "api-item",
        lambda w, u: ("get", f"/api/v1/items/{w.items[0].pk}/", None),
        200,
    ),
    Endpoint(
        "decisions-list", "api-decisions", lambda w, u: ("get", "/api/v1/decisions/", None), 200
    ),
    Endpoint(
        "decisions-create",
        "api-decisions",
        lambda w, u: (
            "post",
            "/api/v1/decisions/",
            {"lease": str(_lease_of(w, u).token), "verdicts": {"hate": "violating"}},
        ),
        201,
    ),
    Endpoint(
        "decision-undo",
        "api-decision-undo",
        lambda w, u: ("post", f"/api/v1/decisions/{_decision_of(w, u).pk}/undo/", None),
        200,
    ),
    Endpoint(
        "lease-skip",
        "api-lease-skip",
        lambda w, u: ("post", f"/api/v1/leases/{_lease_of(w, u).token}/skip/", None),
        204,
    ),
    Endpoint(
        "lease-escalate",
        "api-lease-escalate",
        lambda w, u: ("post", f"/api/v1/leases/{_lease_of(w, u).token}/escalate/", None),
        201,
    ),
    Endpoint("labels-list", "api-labels", lambda w, u: ("get", "/api/v1/labels/", None), 200),
    Endpoint(
        "adjudications-list",
        "api-adjudications",
        lambda w, u: ("get", "/api/v1/adjudications/", None),
        200,
        ADJUDICATORS,
    ),
    Endpoint(
        "adjudications-create",
        "api-adjudications",
        lambda w, u: (
            "post",
            "/api/v1/adjudications/",
            {"item": w.escalated.pk, "verdicts": {"hate": "borderline"}},
        ),
        201,
        ADJUDICATORS,
    ),
]


@pytest.fixture
def world(queue, other_reviewer):
    items = make_items(queue, 4)
    lease = services.lease_next(queue=queue, reviewer=other_reviewer)
    assert lease is not None
    services.lease_escalate(token=token_of(lease), reviewer=other_reviewer)
    return World(queue=queue, items=items, bystander=other_reviewer, escalated=lease.item)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_permission_matrix(request, world, endpoint, persona):
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    method, url, body = endpoint.request(world, user)
    assert resolve(url).url_name == endpoint.route
    client = client_for(user)
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == endpoint.expected(persona), response.content


def test_the_matrix_covers_every_route_of_the_core_api():
    routes = {
        pattern.name
        for pattern in urls.urlpatterns
        if pattern.callback.view_class.__module__.startswith("labeling.api.views")  # type: ignore[attr-defined]
    }
    # auth/token is public by design and tested on its own.
    assert {endpoint.route for endpoint in ENDPOINTS} == routes - {"api-token"}
