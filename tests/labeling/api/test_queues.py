"""/api/v1/queues/"""

from __future__ import annotations

import pytest

from labeling import services
from labeling.models import Queue
from tests.factories import make_items

from .conftest import take_lease, token_of

pytestmark = pytest.mark.django_db


def test_lead_creates_a_queue(as_lead, policy, reviewer):
    response = as_lead.post(
        "/api/v1/queues/",
        {
            "slug": "appeals",
            "name": "Appeals",
            "policies": ["hate"],
            "overlap": 2,
            "blind": True,
            "reviewers": [reviewer.username],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["policies"] == ["hate"]
    assert body["overlap"] == 2 and body["blind"] is True
    assert body["counts"] == {
        "pending": 0,
        "in_review": 0,
        "adjudication": 0,
        "escalated": 0,
        "resolved": 0,
    }
    assert list(Queue.objects.get(slug="appeals").reviewers.all()) == [reviewer]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "q", "name": "Q"}, "policies"),
        ({"slug": "q", "name": "Q", "policies": []}, "policies"),
        ({"slug": "q", "name": "Q", "policies": ["nope"]}, "policies"),
        ({"slug": "q", "name": "Q", "policies": ["hate"], "overlap": 0}, "overlap"),
        ({"slug": "q", "name": "Q", "policies": ["hate"], "order": "random"}, "order"),
        (
            {"slug": "q", "name": "Q", "policies": ["hate"], "lease_seconds": "long"},
            "lease_seconds",
        ),
        ({"slug": "q", "name": "Q", "policies": ["hate"], "reviewers": ["ghost"]}, "reviewers"),
    ],
)
def test_bad_queue_bodies_are_400_with_field_messages(as_lead, policy, body, field):
    response = as_lead.post("/api/v1/queues/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Queue.objects.exists()


def test_queue_counts_per_status(as_lead, queue, reviewer):
    make_items(queue, 4)
    lease = take_lease(queue, reviewer)
    services.decision_submit(token=lease.token, reviewer=reviewer, verdicts={"hate": "violating"})
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    services.lease_escalate(token=token_of(lease), reviewer=reviewer)
    response = as_lead.get("/api/v1/queues/main/")
    assert response.status_code == 200
    assert response.json()["counts"] == {
        "pending": 2,
        "in_review": 0,
        "adjudication": 0,
        "escalated": 1,
        "resolved": 1,
    }
    listed = as_lead.get("/api/v1/queues/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["counts"]["pending"] == 2


def test_a_reviewer_sees_only_their_queues(as_reviewer, queue, policy, lead):
    services.queue_create(slug="secret", name="Secret", policies=[policy])
    slugs = [row["slug"] for row in as_reviewer.get("/api/v1/queues/").json()["results"]]
    assert slugs == ["main"]
    assert as_reviewer.get("/api/v1/queues/secret/").status_code == 404
