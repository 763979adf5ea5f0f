"""/api/v1/leases/{token}/skip/ and /escalate/"""

from __future__ import annotations

import uuid

import pytest

from labeling.models import Escalation, ItemStatus, Skip

from .conftest import client_for, take_lease

pytestmark = pytest.mark.django_db


def test_skip_answers_204_and_the_item_does_not_come_back(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    response = as_reviewer.post(f"/api/v1/leases/{lease.token}/skip/")
    assert response.status_code == 204
    assert Skip.objects.filter(item=lease.item, reviewer=reviewer).exists()
    shown: list[str] = []
    while (
        response := as_reviewer.post("/api/v1/queues/main/next/", {"exclude": shown}, format="json")
    ).status_code == 200:
        shown.append(response.json()["lease"]["token"])
        assert response.json()["item"]["id"] != lease.item_id
    assert len(shown) == 2


def test_escalate_answers_201(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    response = as_reviewer.post(
        f"/api/v1/leases/{lease.token}/escalate/", {"note": "<b>threat</b>"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["item"] == lease.item_id
    assert body["note"] == "<b>threat</b>"
    assert Escalation.objects.get(pk=body["id"]).item.status == ItemStatus.ESCALATED


def test_escalate_without_a_body_is_fine(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    assert as_reviewer.post(f"/api/v1/leases/{lease.token}/escalate/").status_code == 201


def test_a_foreign_lease_cannot_be_skipped_or_escalated(queue, items, reviewer, other_reviewer):
    lease = take_lease(queue, reviewer)
    client = client_for(other_reviewer)
    assert client.post(f"/api/v1/leases/{lease.token}/skip/").status_code == 409
    assert client.post(f"/api/v1/leases/{lease.token}/escalate/").status_code == 409
    assert not Skip.objects.exists() and not Escalation.objects.exists()


def test_an_unknown_or_malformed_token(as_reviewer, items):
    assert as_reviewer.post(f"/api/v1/leases/{uuid.uuid4()}/skip/").status_code == 409
    assert as_reviewer.post("/api/v1/leases/not-a-uuid/skip/").status_code == 404


def test_a_bad_escalation_note_is_400(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    response = as_reviewer.post(
        f"/api/v1/leases/{lease.token}/escalate/", {"note": ["a"]}, format="json"
    )
    assert response.status_code == 400
    assert "note" in response.json()["extra"]["fields"]
