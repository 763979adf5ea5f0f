"""/api/v1/labels/ and /api/v1/adjudications/"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Decision, DecisionKind, Label, LabelSource
from tests.factories import make_items, make_queue

from .conftest import client_for, take_lease

pytestmark = pytest.mark.django_db


@pytest.fixture
def double(policy, reviewer, other_reviewer, senior):
    return make_queue(
        slug="double", policies=[policy], reviewers=[reviewer, other_reviewer, senior], overlap=2
    )


def _disagree(queue, first, second):
    (item,) = make_items(queue, 1, prefix=f"{queue.slug}-")
    for user, value in ((first, "violating"), (second, "not_violating")):
        lease = take_lease(queue, user)
        services.decision_submit(token=lease.token, reviewer=user, verdicts={"hate": value})
    return item


def test_labels_list_and_filters(as_lead, queue, items, reviewer):
    spam = services.policy_create(slug="spam", name="Spam")
    services.label_store(
        item=items[0], policy=spam, value="violating", source=LabelSource.IMPORT, agreement=None
    )
    lease = take_lease(queue, reviewer)
    services.decision_submit(token=lease.token, reviewer=reviewer, verdicts={"hate": "borderline"})

    def rows(query):
        response = as_lead.get("/api/v1/labels/", query)
        assert response.status_code == 200
        return [(row["policy"], row["value"], row["source"]) for row in response.json()["results"]]

    assert len(rows({})) == 2
    assert rows({"policy": "hate"}) == [("hate", "borderline", "consensus")]
    assert rows({"source": "import"}) == [("spam", "violating", "import")]
    assert len(rows({"queue": "main"})) == 2
    assert rows({"queue": "other"}) == []
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert rows({"since": future}) == []
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert len(rows({"since": past})) == 2
    assert as_lead.get("/api/v1/labels/", {"since": "yesterday"}).status_code == 400
    assert as_lead.get("/api/v1/labels/", {"source": "guess"}).status_code == 400
    body = as_lead.get("/api/v1/labels/", {"policy": "hate"}).json()["results"][0]
    assert body["item"] == lease.item_id
    assert body["item_external_id"] == lease.item.external_id
    assert body["policy_version"] == 1


def test_adjudication_backlog_lists_items_with_their_decisions(
    double, reviewer, other_reviewer, senior
):
    item = _disagree(double, reviewer, other_reviewer)
    response = client_for(senior).get("/api/v1/adjudications/")
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["id"] == item.pk
    assert row["status"] == "adjudication"
    assert row["policies"] == ["hate"]
    assert [(d["reviewer"], d["verdicts"]["hate"]) for d in row["decisions"]] == [
        (reviewer.username, "violating"),
        (other_reviewer.username, "not_violating"),
    ]
    assert row["escalations"] == []


def test_escalations_are_in_the_backlog(as_senior, queue, items, reviewer):
    lease = take_lease(queue, reviewer)
    services.lease_escalate(token=lease.token, reviewer=reviewer, note="threat")
    (row,) = as_senior.get("/api/v1/adjudications/").json()["results"]
    assert row["status"] == "escalated"
    assert [(e["reviewer"], e["note"]) for e in row["escalations"]] == [
        (reviewer.username, "threat")
    ]


def test_adjudicate_stores_a_label_from_adjudication(double, reviewer, other_reviewer, senior):
    item = _disagree(double, reviewer, other_reviewer)
    response = client_for(senior).post(
        "/api/v1/adjudications/",
        {"item": item.pk, "verdicts": {"hate": "not_violating"}, "note": "satire"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "adjudication"
    assert Decision.objects.get(pk=body["id"]).kind == DecisionKind.ADJUDICATION
    label = Label.objects.get(item=item)
    assert (label.value, label.source) == ("not_violating", LabelSource.ADJUDICATION)
    assert client_for(senior).get("/api/v1/adjudications/").json()["count"] == 0
    again = client_for(senior).post(
        "/api/v1/adjudications/",
        {"item": item.pk, "verdicts": {"hate": "violating"}},
        format="json",
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"verdicts": {"hate": "violating"}}, "item"),
        ({"item": 999999, "verdicts": {"hate": "violating"}}, "item"),
        ({"item": "x", "verdicts": {"hate": "violating"}}, "item"),
        ({"item": None, "verdicts": {"hate": "maybe"}}, "hate"),
        ({"item": None}, "verdicts"),
    ],
)
def test_bad_adjudications_are_400(double, reviewer, other_reviewer, senior, body, field):
    item = _disagree(double, reviewer, other_reviewer)
    if "item" in body and body["item"] is None:
        body = {**body, "item": item.pk}
    response = client_for(senior).post("/api/v1/adjudications/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Label.objects.exists()


def test_a_senior_cannot_adjudicate_outside_their_queues(policy, reviewer, other_reviewer, senior):
    elsewhere = make_queue(
        slug="elsewhere", policies=[policy], reviewers=[reviewer, other_reviewer], overlap=2
    )
    item = _disagree(elsewhere, reviewer, other_reviewer)
    client = client_for(senior)
    assert client.get("/api/v1/adjudications/").json()["count"] == 0
    response = client.post(
        "/api/v1/adjudications/",
        {"item": item.pk, "verdicts": {"hate": "violating"}},
        format="json",
    )
    assert response.status_code == 400
    assert "item" in response.json()["extra"]["fields"]
