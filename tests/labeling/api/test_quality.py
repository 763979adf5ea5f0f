"""Quality API (agreement, reviewer accuracy, golden items) and blind review through the API:
a reviewer never sees others' verdicts, the suggestion of a blind queue, or which item is golden."""

from __future__ import annotations

import json

import pytest

from labeling import golden, services
from labeling.models import Decision, GoldenItem, Item, Queue
from tests.factories import UserFactory, make_items, make_queue

from .conftest import client_for, take_lease

pytestmark = pytest.mark.django_db

V, N = "violating", "not_violating"
AGREEMENT = "/api/v1/quality/agreement/"
REVIEWERS = "/api/v1/quality/reviewers/"
GOLDEN = "/api/v1/golden/"


def decide(queue, user, value):
    lease = take_lease(queue, user)
    return services.decision_submit(token=lease.token, reviewer=user, verdicts={"hate": value})


@pytest.fixture
def rated(policy, reviewer, other_reviewer):
    """Four items decided by Rita (V V N N) and Oscar (V N N N) in a queue of overlap 2."""
    queue = make_queue(
        slug="pair", policies=[policy], reviewers=[reviewer, other_reviewer], overlap=2
    )
    make_items(queue, 4, prefix="p")
    for _ in range(4):
        lease = take_lease(queue, reviewer)
        value = V if lease.item.external_id in ("p3", "p2") else N
        services.decision_submit(token=lease.token, reviewer=reviewer, verdicts={"hate": value})
    for _ in range(4):
        lease = take_lease(queue, other_reviewer)
        value = V if lease.item.external_id == "p3" else N
        services.decision_submit(
            token=lease.token, reviewer=other_reviewer, verdicts={"hate": value}
        )
    return queue


# --- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [AGREEMENT, REVIEWERS])
@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("reviewer", 403),
        ("senior", 403),
        ("ml_engineer", 403),
        ("outsider", 403),
        ("lead", 200),
        ("admin_user", 200),
    ],
)
def test_quality_endpoints_are_for_leads_and_admins(request, url, persona, code, policy):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(url).status_code == code


@pytest.mark.parametrize(
    ("persona", "code"),
    [("reviewer", 403), ("ml_engineer", 403), ("senior", 200), ("lead", 200), ("admin_user", 200)],
)
def test_golden_items_are_for_senior_reviewers_leads_and_admins(request, persona, code, queue):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(GOLDEN).status_code == code


def test_anonymous_requests_are_401(api_client):
    for url in (AGREEMENT, REVIEWERS, GOLDEN):
        assert api_client.get(url).status_code == 401


# --- agreement -----------------------------------------------------------------------------------


def test_agreement_reports_each_measure_with_its_counts(as_lead, rated):
    body = as_lead.get(AGREEMENT, {"policy": "hate"}).json()

    [result] = body["results"]
    assert result["policy"] == "hate"
    assert result["n_ratings"] == 8
    alpha = result["measures"]["krippendorff_alpha_nominal"]
    assert alpha["value"] == pytest.approx(8 / 15)
    assert (alpha["n_items"], alpha["n_raters"], alpha["defined"]) == (4, 2, True)
    assert result["measures"]["fleiss_kappa"]["value"] == pytest.approx(7 / 15)
    [pair] = result["pairs"]
    assert (pair["rater_a"], pair["rater_b"]) == ("oscar", "rita")
    assert pair["cohen_kappa"]["value"] == pytest.approx(0.5)


def test_one_rater_is_not_defined_and_carries_no_number(as_lead, queue, reviewer):
    make_items(queue, 3)
    for value in (V, N, V):
        decide(queue, reviewer, value)

    result = as_lead.get(AGREEMENT, {"queue": "main"}).json()["results"][0]

    for measure in result["measures"].values():
        assert measure["defined"] is False
        assert measure["value"] is None
        assert measure["reason"].startswith("not defined:")


def test_measure_and_period_filters(as_lead, rated):
    only_pairs = as_lead.get(AGREEMENT, {"measure": "cohen_kappa", "queue": "pair"}).json()
    future = as_lead.get(AGREEMENT, {"since": "2999-01-01T00:00:00Z"}).json()

    assert only_pairs["results"][0]["measures"] == {}
    assert len(only_pairs["results"][0]["pairs"]) == 1
    assert future["results"][0]["n_ratings"] == 0


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"measure": "vibes"}, 400),
        ({"since": "yesterday"}, 400),
        ({"policy": "nope"}, 404),
        ({"queue": "nope"}, 404),
    ],
)
def test_bad_agreement_queries(as_lead, policy, query, code):
    assert as_lead.get(AGREEMENT, query).status_code == code


# --- reviewer accuracy ---------------------------------------------------------------------------


def test_reviewer_accuracy_per_policy(as_lead, policy, reviewer, senior):
    queue = make_queue(slug="gold", policies=[policy], reviewers=[reviewer])
    for item in make_items(queue, 3, prefix="g"):
        golden.golden_add(item=item, expected={"hate": V}, actor=senior)
    Queue.objects.filter(pk=queue.pk).update(golden_share=1.0)
    queue.refresh_from_db()
    for value in (V, V, N):
        decide(queue, reviewer, value)

    [row] = as_lead.get(REVIEWERS, {"policy": "hate"}).json()

    assert row["reviewer"] == "rita"
    assert (row["answers"], row["correct"]) == (3, 2)
    assert row["accuracy"] == pytest.approx(2 / 3)
    assert row["answers_30_days"] == 3
    assert row["accuracy_30_days"] == pytest.approx(2 / 3)
    old = as_lead.get(REVIEWERS, {"until": "2000-01-01T00:00:00Z"}).json()
    assert old == []
    assert row["threshold"] == pytest.approx(0.8)
    assert row["open_alert"] is None


# --- golden items --------------------------------------------------------------------------------


def test_a_senior_reviewer_makes_an_item_golden(as_senior, queue, items):
    response = as_senior.post(GOLDEN, {"item": items[0].pk, "expected": {"hate": V}}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["item"] == items[0].pk
    assert body["expected"] == {"hate": V}
    assert body["queue"] == "main"
    assert body["added_by"] == "sam"
    assert GoldenItem.objects.filter(item=items[0]).exists()
    again = as_senior.post(GOLDEN, {"item": items[0].pk, "expected": {"hate": N}}, format="json")
    assert again.status_code == 200
    assert as_senior.get(GOLDEN).json()["count"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"item": 0, "expected": {"hate": V}},
        {"expected": {"hate": V}},
        {"item": "ITEM", "expected": {}},
        {"item": "ITEM", "expected": {"hate": "maybe"}},
        {"item": "ITEM", "expected": {"spam": V}},
    ],
)
def test_bad_golden_bodies(as_lead, items, body):
    if body.get("item") == "ITEM":
        body = {**body, "item": items[0].pk}
    response = as_lead.post(GOLDEN, body, format="json")

    assert response.status_code in (400, 404)
    assert not GoldenItem.objects.exists()


def test_a_reviewer_cannot_make_items_golden(as_reviewer, items):
    response = as_reviewer.post(
        GOLDEN, {"item": items[0].pk, "expected": {"hate": V}}, format="json"
    )
    assert response.status_code == 403


# --- blind review --------------------------------------------------------------------------------


def test_reviewers_see_only_their_own_decisions(rated, reviewer, other_reviewer):
    as_rita = client_for(reviewer)
    item = Item.objects.filter(queue=rated).first()

    everything = as_rita.get("/api/v1/decisions/").json()
    on_item = as_rita.get("/api/v1/decisions/", {"item": item.pk}).json()

    assert everything["count"] == 4
    assert {row["reviewer"] for row in everything["results"]} == {"rita"}
    assert [row["reviewer"] for row in on_item["results"]] == ["rita"]


def test_a_reviewer_sees_no_model_scores_on_items(as_reviewer, items):
    Item.objects.filter(pk=items[0].pk).update(model_scores={"hate": {"label": V, "score": 0.9}})

    assert as_reviewer.get(f"/api/v1/items/{items[0].pk}/").json()["model_scores"] is None


def test_a_golden_item_is_served_like_any_other(policy, reviewer, senior):
    queue = make_queue(slug="mixed", policies=[policy], reviewers=[reviewer])
    normal, honeypot = make_items(queue, 2, prefix="m")
    scores = {"hate": {"label": V, "score": 0.9}}
    Item.objects.filter(pk__in=[normal.pk, honeypot.pk]).update(model_scores=scores)
    golden.golden_add(item=honeypot, expected={"hate": V}, actor=senior)
    Queue.objects.filter(pk=queue.pk).update(golden_share=0.5)
    client = client_for(reviewer)

    first = client.post("/api/v1/queues/mixed/next/", {}, format="json").json()
    second = client.post(
        "/api/v1/queues/mixed/next/", {"exclude": [first["lease"]["token"]]}, format="json"
    ).json()

    payloads = {payload["item"]["id"]: payload for payload in (first, second)}
    gold, plain = payloads[honeypot.pk], payloads[normal.pk]
    assert _shape(gold) == _shape(plain)
    assert plain["suggestion"] == {"hate": scores["hate"]}
    assert gold["suggestion"] is None  # honeypots are served blind, whatever the queue
    assert gold["item"]["status"] == plain["item"]["status"] == "pending"
    assert "golden" not in json.dumps(gold).lower()
    assert "expected" not in json.dumps(gold).lower()


def _shape(value):
    if isinstance(value, dict):
        return {key: _shape(child) for key, child in value.items() if key != "suggestion"}
    if isinstance(value, list):
        return [_shape(child) for child in value[:1]]
    return type(value).__name__


def test_a_blind_queue_hides_the_suggestion(policy, reviewer):
    queue = make_queue(slug="blind", policies=[policy], reviewers=[reviewer], blind=True)
    [item] = make_items(queue, 1)
    Item.objects.filter(pk=item.pk).update(model_scores={"hate": {"label": V, "score": 0.9}})

    payload = client_for(reviewer).post("/api/v1/queues/blind/next/", {}, format="json").json()

    assert payload["suggestion"] is None
    assert payload["queue"]["blind"] is True


def test_golden_answers_are_not_listed_to_other_reviewers(policy, reviewer, other_reviewer, senior):
    queue = make_queue(slug="g2", policies=[policy], reviewers=[reviewer, other_reviewer])
    [honeypot] = make_items(queue, 1)
    golden.golden_add(item=honeypot, expected={"hate": V}, actor=senior)
    Queue.objects.filter(pk=queue.pk).update(golden_share=1.0)
    queue.refresh_from_db()
    decide(queue, reviewer, N)

    listed = client_for(other_reviewer).get("/api/v1/decisions/", {"item": honeypot.pk}).json()

    assert listed["count"] == 0
    assert Decision.objects.filter(item=honeypot).count() == 1


def test_an_unknown_user_with_no_role_gets_nothing(policy):
    stranger = UserFactory(username="nobody")
    assert client_for(stranger).get(GOLDEN).status_code == 403
