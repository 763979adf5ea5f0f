"""/api/v1/items/"""

from __future__ import annotations

import pytest

from labeling import services
from labeling.models import Item, Lease

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _batch(*external_ids, **extra):
    return {
        "queue": "main",
        "source": "forum",
        "items": [
            {"external_id": external_id, "text": f"text {external_id}"}
            for external_id in external_ids
        ],
        **extra,
    }


def test_engineer_posts_a_batch(as_engineer, queue):
    body = _batch("a", "b")
    body["items"][0].update(
        {
            "metadata": {"author": "u1"},
            "language": "en",
            "received_at": "2026-11-01T10:00:00Z",
            "priority": 0.7,
        }
    )
    response = as_engineer.post("/api/v1/items/", body, format="json")
    assert response.status_code == 201, response.json()
    result = response.json()
    assert result["created"] == 2 and result["existing"] == 0
    assert [row["external_id"] for row in result["items"]] == ["a", "b"]
    assert all(row["created"] for row in result["items"])
    item = Item.objects.get(pk=result["items"][0]["id"])
    assert (item.source, item.language, item.priority) == ("forum", "en", 0.7)
    assert item.metadata == {"author": "u1"}
    assert item.received_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert Lease.objects.filter(item=item).count() == 1


def test_a_repeated_batch_reports_existing_items(as_engineer, queue):
    first = as_engineer.post("/api/v1/items/", _batch("a"), format="json").json()
    response = as_engineer.post("/api/v1/items/", _batch("b", "a"), format="json")
    assert response.status_code == 201
    result = response.json()
    assert result["created"] == 1 and result["existing"] == 1
    assert [(row["external_id"], row["created"]) for row in result["items"]] == [
        ("b", True),
        ("a", False),
    ]
    assert result["items"][1]["id"] == first["items"][0]["id"]
    assert Item.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "x", "items": [{"external_id": "a"}]}, "queue"),
        ({"queue": "nope", "items": [{"external_id": "a"}]}, "queue"),
        ({"queue": "main"}, "items"),
        ({"queue": "main", "items": []}, "items"),
        ({"queue": "main", "items": "a"}, "items"),
        ({"queue": "main", "items": [{"text": "no id"}]}, "items"),
        ({"queue": "main", "items": [{"external_id": "a", "priority": "high"}]}, "items"),
        ({"queue": "main", "items": [{"external_id": "a", "metadata": [1]}]}, "items"),
        ({"queue": "main", "items": [{"external_id": "a", "received_at": "yesterday"}]}, "items"),
        ({"queue": "main", "items": [{"external_id": "x" * 256}]}, "items"),
    ],
)
def test_bad_batches_are_400_with_field_messages(as_engineer, queue, body, field):
    response = as_engineer.post("/api/v1/items/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Item.objects.exists()


def test_an_item_error_names_its_row(as_engineer, queue):
    body = _batch("a", "b")
    body["items"][1]["priority"] = "high"
    response = as_engineer.post("/api/v1/items/", body, format="json")
    assert response.status_code == 400
    rows = response.json()["extra"]["fields"]["items"]
    assert set(rows) == {"1"}
    assert "priority" in rows["1"]


def test_more_than_1000_items_are_refused(as_engineer, queue):
    body = _batch(*[f"id{n}" for n in range(1001)])
    response = as_engineer.post("/api/v1/items/", body, format="json")
    assert response.status_code == 400
    assert "items" in response.json()["extra"]["fields"]
    assert not Item.objects.exists()


def test_exactly_1000_items_are_accepted(as_engineer, queue):
    body = _batch(*[f"id{n}" for n in range(1000)])
    response = as_engineer.post("/api/v1/items/", body, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 1000


def test_duplicate_external_ids_in_a_batch_store_nothing(as_engineer, queue):
    response = as_engineer.post("/api/v1/items/", _batch("a", "b", "a"), format="json")
    assert response.status_code == 400
    assert "2" in response.json()["extra"]["rows"]
    assert not Item.objects.exists()


def test_item_list_filters(as_engineer, queue, policy):
    services.items_ingest(
        queue=queue,
        items=[services.ItemInput(external_id="a"), services.ItemInput(external_id="b")],
        source="s1",
    )
    services.items_ingest(queue=queue, items=[services.ItemInput(external_id="a")], source="s2")
    other = services.queue_create(slug="other", name="Other", policies=[policy])
    services.items_ingest(queue=other, items=[services.ItemInput(external_id="c")], source="s1")

    def ids(query):
        response = as_engineer.get("/api/v1/items/", query)
        assert response.status_code == 200
        return sorted((row["source"], row["external_id"]) for row in response.json()["results"])

    assert ids({"external_id": "a"}) == [("s1", "a"), ("s2", "a")]
    assert ids({"source": "s1"}) == [("s1", "a"), ("s1", "b"), ("s1", "c")]
    assert ids({"queue": "other"}) == [("s1", "c")]
    assert ids({"status": "pending", "source": "s2"}) == [("s2", "a")]
    assert ids({"status": "resolved"}) == []
    assert as_engineer.get("/api/v1/items/", {"status": "bogus"}).status_code == 400


def test_item_list_is_paginated(as_engineer, items):
    body = as_engineer.get("/api/v1/items/", {"limit": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_a_reviewer_sees_only_items_of_their_queues(as_reviewer, queue, policy, items):
    other = services.queue_create(slug="other", name="Other", policies=[policy])
    (hidden,) = services.items_ingest(
        queue=other, items=[services.ItemInput(external_id="hidden")]
    ).created
    listed = as_reviewer.get("/api/v1/items/").json()
    assert listed["count"] == 3
    assert hidden.pk not in [row["id"] for row in listed["results"]]
    assert as_reviewer.get(f"/api/v1/items/{hidden.pk}/").status_code == 404
    assert as_reviewer.get(f"/api/v1/items/{items[0].pk}/").status_code == 200


def test_model_scores_are_shown_to_staff_only(as_reviewer, as_engineer, items):
    item = items[0]
    item.model_scores = {"hate": {"label": "violating", "score": 0.9}}
    item.save()
    assert as_engineer.get(f"/api/v1/items/{item.pk}/").json()["model_scores"] == {
        "hate": {"label": "violating", "score": 0.9}
    }
    assert as_reviewer.get(f"/api/v1/items/{item.pk}/").json()["model_scores"] is None


def test_hostile_content_comes_back_verbatim(as_engineer, queue):
    body = {
        "queue": "main",
        "items": [
            {
                "external_id": "evil",
                "text": f"  {HOSTILE}\n",
                "metadata": {"title": HOSTILE, "nested": {"html": "<b>x</b>"}},
            }
        ],
    }
    created = as_engineer.post("/api/v1/items/", body, format="json")
    assert created.status_code == 201
    item_id = created.json()["items"][0]["id"]
    response = as_engineer.get(f"/api/v1/items/{item_id}/")
    assert response["Content-Type"] == "application/json"
    detail = response.json()
    assert detail["text"] == f"  {HOSTILE}\n"
    assert detail["metadata"] == {"title": HOSTILE, "nested": {"html": "<b>x</b>"}}


def test_a_full_batch_of_long_texts_is_accepted(as_engineer, queue):
    # 1000 posts of 3 kB: larger than Django's default 2.5 MB request body limit.
    body = {
        "queue": "main",
        "items": [{"external_id": f"id{n}", "text": "y" * 3000} for n in range(1000)],
    }
    response = as_engineer.post("/api/v1/items/", body, format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 1000


def test_a_batch_over_the_body_limit_is_413(as_engineer, queue, monkeypatch):
    from labeling.api.views import items as item_views

    monkeypatch.setattr(item_views, "BULK_BODY_LIMIT", 1000)
    body = {"queue": "main", "items": [{"external_id": "a", "text": "y" * 2000}]}
    response = as_engineer.post("/api/v1/items/", body, format="json")
    assert response.status_code == 413
    assert response.json()["message"]
    assert not Item.objects.exists()


def test_a_batch_that_is_not_json_is_400(as_engineer, queue):
    response = as_engineer.post(
        "/api/v1/items/", data=b"{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]
