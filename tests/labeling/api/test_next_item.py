"""POST /api/v1/queues/{slug}/next/ — the shape the review page is written against."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from labeling import services
from labeling.models import Lease, LeaseState
from tests.factories import PolicyFactory, make_queue

pytestmark = pytest.mark.django_db


def test_next_returns_the_exact_review_shape(as_reviewer, queue, items, reviewer):
    top = items[-1]  # the highest priority
    top.model_scores = {
        "hate": {"label": "violating", "score": 0.93},
        "spam": {"label": "x", "score": 1.0},
    }
    top.metadata = {"author": "u1"}
    top.save()
    response = as_reviewer.post("/api/v1/queues/main/next/", format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"lease", "item", "queue", "policies", "suggestion"}
    assert set(body["lease"]) == {"token", "slot", "expires_at"}
    uuid.UUID(body["lease"]["token"])
    assert body["lease"]["slot"] == 0
    assert datetime.fromisoformat(body["lease"]["expires_at"])
    assert body["item"] == {
        "id": top.pk,
        "external_id": top.external_id,
        "source": "test",
        "text": top.text,
        "metadata": {"author": "u1"},
        "language": "",
        "received_at": body["item"]["received_at"],
        "status": "pending",
        "media": [],
    }
    assert body["queue"] == {"slug": "main", "name": "Main", "blind": False}
    assert body["policies"] == [
        {
            "slug": "hate",
            "name": "Hate speech",
            "labels": ["violating", "borderline", "not_violating"],
            "guidelines_html": "<h1>Rules</h1>\n<p>Be kind.</p>",
        }
    ]
    # Only the queue's policies are suggested.
    assert body["suggestion"] == {"hate": {"label": "violating", "score": 0.93}}
    lease = Lease.objects.get(token=body["lease"]["token"])
    assert (lease.reviewer, lease.state) == (reviewer, LeaseState.LEASED)


def test_a_blind_queue_shows_no_suggestion(policy, reviewer):
    from tests.factories import make_items

    from .conftest import client_for

    queue = make_queue(slug="blind", policies=[policy], reviewers=[reviewer], blind=True)
    (item,) = make_items(queue, 1)
    item.model_scores = {"hate": {"label": "violating", "score": 0.93}}
    item.save()
    body = client_for(reviewer).post("/api/v1/queues/blind/next/").json()
    assert body["queue"]["blind"] is True
    assert body["suggestion"] is None


def test_no_scores_means_no_suggestion(as_reviewer, items):
    assert as_reviewer.post("/api/v1/queues/main/next/").json()["suggestion"] is None


def test_next_resumes_and_exclude_asks_for_another(as_reviewer, items):
    first = as_reviewer.post("/api/v1/queues/main/next/").json()
    again = as_reviewer.post("/api/v1/queues/main/next/").json()
    assert again["lease"]["token"] == first["lease"]["token"]
    other = as_reviewer.post(
        "/api/v1/queues/main/next/", {"exclude": [first["lease"]["token"]]}, format="json"
    ).json()
    assert other["item"]["id"] != first["item"]["id"]


def test_an_empty_queue_answers_204(as_reviewer, queue):
    response = as_reviewer.post("/api/v1/queues/main/next/")
    assert response.status_code == 204
    assert response.content == b""


def test_too_many_held_leases_is_409(as_reviewer, queue):
    from tests.factories import make_items

    make_items(queue, 5)
    tokens: list[str] = []
    for _ in range(services.MAX_ACTIVE_LEASES_PER_QUEUE):
        body = as_reviewer.post(
            "/api/v1/queues/main/next/", {"exclude": tokens}, format="json"
        ).json()
        tokens.append(body["lease"]["token"])
    response = as_reviewer.post("/api/v1/queues/main/next/", {"exclude": tokens}, format="json")
    assert response.status_code == 409
    assert response.json()["message"]


def test_bad_exclude_is_400(as_reviewer, items):
    response = as_reviewer.post(
        "/api/v1/queues/main/next/", {"exclude": ["not-a-uuid"]}, format="json"
    )
    assert response.status_code == 400
    assert "exclude" in response.json()["extra"]["fields"]


def test_a_queue_the_reviewer_is_not_in_is_404(as_reviewer, reviewer):
    make_queue(slug="elsewhere", policies=[PolicyFactory()])
    assert as_reviewer.post("/api/v1/queues/elsewhere/next/").status_code == 404
