"""/api/v1/decisions/ and /api/v1/decisions/{id}/undo/"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Decision, Label, Lease, Retraction
from tests.factories import make_items, make_queue

from .conftest import client_for, take_lease, token_of

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


def _expire(lease):
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def _body(held, **extra):
    return {
        "lease": str(held.token),
        "verdicts": {"hate": "violating"},
        "note": "",
        "time_on_item_ms": 1234,
        "idempotency_key": "key-1",
        "suggestion_shown": None,
        **extra,
    }


def test_submit_creates_a_decision(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    response = as_reviewer.post(
        "/api/v1/decisions/",
        _body(lease, suggestion_shown={"hate": {"label": "violating", "score": 0.9}}),
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "item", "verdicts", "note", "created_at", "kind"}
    assert body["item"] == lease.item_id
    assert body["verdicts"] == {"hate": "violating"}
    assert body["kind"] == "review"
    decision = Decision.objects.get(pk=body["id"])
    assert decision.time_on_item_ms == 1234
    assert decision.suggestion_shown == {"hate": {"label": "violating", "score": 0.9}}
    assert Label.objects.get(item=lease.item).value == "violating"


def test_a_retry_with_the_same_key_returns_200_and_the_same_decision(
    as_reviewer, queue, items, reviewer
):
    lease = take_lease(queue, reviewer)
    first = as_reviewer.post("/api/v1/decisions/", _body(lease), format="json")
    retry = as_reviewer.post("/api/v1/decisions/", _body(lease), format="json")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert Decision.objects.count() == 1


def test_an_expired_lease_is_409(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    _expire(lease)
    response = as_reviewer.post("/api/v1/decisions/", _body(lease), format="json")
    assert response.status_code == 409
    assert response.json()["message"]
    assert not Decision.objects.exists()


def test_an_expired_lease_taken_by_someone_else_is_409(
    as_reviewer, queue, items, reviewer, other_reviewer
):
    lease = take_lease(queue, reviewer)
    _expire(lease)
    # The other reviewer is offered the expired slot once everything else is taken.
    while True:
        taken = services.lease_next(queue=queue, reviewer=other_reviewer, exclude_tokens=[])
        if taken is None or taken.pk == lease.pk:
            break
        services.decision_submit(
            token=token_of(taken), reviewer=other_reviewer, verdicts={"hate": "violating"}
        )
    assert taken is not None and taken.pk == lease.pk
    response = as_reviewer.post("/api/v1/decisions/", _body(lease), format="json")
    assert response.status_code == 409


def test_a_foreign_lease_is_409(queue, items, reviewer, other_reviewer):
    lease = take_lease(queue, reviewer)
    response = client_for(other_reviewer).post("/api/v1/decisions/", _body(lease), format="json")
    assert response.status_code == 409
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lease": None}, "lease"),
        ({"lease": "not-a-uuid"}, "lease"),
        ({"verdicts": None}, "verdicts"),
        ({"verdicts": {}}, "verdicts"),
        ({"verdicts": "violating"}, "verdicts"),
        ({"verdicts": {"hate": ["violating"]}}, "verdicts"),
        ({"time_on_item_ms": "slow"}, "time_on_item_ms"),
        ({"time_on_item_ms": -1}, "time_on_item_ms"),
        ({"idempotency_key": "k" * 101}, "idempotency_key"),
        ({"suggestion_shown": "yes"}, "suggestion_shown"),
    ],
)
def test_bad_decision_bodies_are_400_with_field_messages(
    as_reviewer, queue, items, reviewer, change, field
):
    lease = take_lease(queue, reviewer)
    body = {key: value for key, value in _body(lease, **change).items() if value is not None}
    response = as_reviewer.post("/api/v1/decisions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("verdicts", "field"),
    [
        ({"hate": "maybe"}, "hate"),
        ({"hate": "violating", "spam": "violating"}, "spam"),
        ({"spam": "violating"}, "hate"),
    ],
)
def test_invalid_verdicts_are_400_per_policy(as_reviewer, queue, items, reviewer, verdicts, field):
    lease = take_lease(queue, reviewer)
    response = as_reviewer.post(
        "/api/v1/decisions/", _body(lease, verdicts=verdicts), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_a_hostile_note_comes_back_verbatim(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    response = as_reviewer.post("/api/v1/decisions/", _body(lease, note=HOSTILE), format="json")
    assert response.json()["note"] == HOSTILE
    listed = as_reviewer.get("/api/v1/decisions/").json()
    assert listed["results"][0]["note"] == HOSTILE


def test_reviewers_list_only_their_own_decisions(queue, items, reviewer, other_reviewer, lead):
    mine = take_lease(queue, reviewer)
    services.decision_submit(token=mine.token, reviewer=reviewer, verdicts={"hate": "violating"})
    theirs = take_lease(queue, other_reviewer)
    services.decision_submit(
        token=theirs.token, reviewer=other_reviewer, verdicts={"hate": "borderline"}
    )
    rows = client_for(reviewer).get("/api/v1/decisions/").json()["results"]
    assert [row["reviewer"] for row in rows] == [reviewer.username]
    staff = client_for(lead)
    assert staff.get("/api/v1/decisions/").json()["count"] == 2
    assert staff.get("/api/v1/decisions/", {"mine": 1}).json()["count"] == 0
    by_item = staff.get("/api/v1/decisions/", {"item": theirs.item_id}).json()["results"]
    assert [row["reviewer"] for row in by_item] == [other_reviewer.username]
    assert staff.get("/api/v1/decisions/", {"queue": "main"}).json()["count"] == 2
    assert staff.get("/api/v1/decisions/", {"queue": "other"}).json()["count"] == 0


def test_undo_returns_the_item_to_show_again(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    decision = as_reviewer.post("/api/v1/decisions/", _body(lease), format="json").json()
    response = as_reviewer.post(f"/api/v1/decisions/{decision['id']}/undo/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"lease", "item", "queue", "policies", "suggestion"}
    assert body["lease"]["token"] == str(lease.token)
    assert body["item"]["id"] == lease.item_id
    assert body["item"]["status"] == "pending"
    assert Retraction.objects.filter(decision_id=decision["id"]).exists()
    assert not Label.objects.filter(item=lease.item).exists()
    # The reviewer decides again under the same lease, with a new key.
    again = as_reviewer.post(
        "/api/v1/decisions/",
        _body(lease, verdicts={"hate": "not_violating"}, idempotency_key="key-2"),
        format="json",
    )
    assert again.status_code == 201
    assert Label.objects.get(item=lease.item).value == "not_violating"
    listed = as_reviewer.get("/api/v1/decisions/").json()["results"]
    assert [row["retracted"] for row in listed] == [False, True]
    assert [row["undoable"] for row in listed] == [True, False]
    assert listed[0]["item_external_id"] == lease.item.external_id
    _expire(lease)
    listed = as_reviewer.get("/api/v1/decisions/", {"mine": 1}).json()["results"]
    assert [row["undoable"] for row in listed] == [False, False]


def test_undo_after_the_lease_ended_is_409(as_reviewer, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    decision = as_reviewer.post("/api/v1/decisions/", _body(lease), format="json").json()
    _expire(lease)
    assert as_reviewer.post(f"/api/v1/decisions/{decision['id']}/undo/").status_code == 409


def test_undo_of_someone_elses_decision_is_404(queue, items, reviewer, other_reviewer):
    lease = take_lease(queue, reviewer)
    decision = services.decision_submit(
        token=lease.token, reviewer=reviewer, verdicts={"hate": "violating"}
    )
    response = client_for(other_reviewer).post(f"/api/v1/decisions/{decision.pk}/undo/")
    assert response.status_code == 404


def test_a_reviewer_never_gets_a_decided_item_again_through_the_api(policy, reviewer):
    queue = make_queue(slug="two", policies=[policy], reviewers=[reviewer], overlap=2)
    make_items(queue, 1)
    client = client_for(reviewer)
    lease = client.post("/api/v1/queues/two/next/").json()["lease"]
    body = {"lease": lease["token"], "verdicts": {"hate": "violating"}}
    assert client.post("/api/v1/decisions/", body, format="json").status_code == 201
    assert client.post("/api/v1/queues/two/next/").status_code == 204
