"""List endpoints read a page in a fixed number of queries, however many rows it holds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling import services
from tests.factories import PolicyFactory, make_items, make_queue

from .conftest import client_for, token_of

pytestmark = pytest.mark.django_db


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert response.json()["count"] > 0
    return len(captured)


def _populate(slug, policy, reviewer, count):
    """A queue of ``count`` items: the first decided (a decision, a label), the rest escalated."""
    queue = make_queue(slug=slug, policies=[policy], reviewers=[reviewer])
    make_items(queue, count, prefix=f"{slug}-")
    decide = True
    while (lease := services.lease_next(queue=queue, reviewer=reviewer)) is not None:
        if decide:
            services.decision_submit(
                token=token_of(lease), reviewer=reviewer, verdicts={"hate": "violating"}
            )
            decide = False
        else:
            services.lease_escalate(token=token_of(lease), reviewer=reviewer)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/items/",
        "/api/v1/queues/",
        "/api/v1/policies/",
        "/api/v1/decisions/",
        "/api/v1/labels/",
        "/api/v1/adjudications/",
    ],
)
def test_list_queries_do_not_grow_with_rows(url, policy, reviewer, lead):
    client = client_for(lead)
    _populate("small", policy, reviewer, 2)
    _queries(client, url)  # the first request also reads (and caches) the caller's roles
    few = _queries(client, url)
    for n in range(4):
        _populate(f"big{n}", policy, reviewer, 4)
        PolicyFactory()
    assert _queries(client, url) == few
