"""Unit tests of the services that set the review loop up: policies, queues, ingest."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from labeling import services
from labeling.models import (
    AuditEvent,
    Item,
    Lease,
    LeaseState,
)
from labeling.services import ingest as ingest_module
from reviewtool.exceptions import Conflict, ValidationFailed
from tests.factories import make_items

pytestmark = pytest.mark.django_db


# --- policies and queues -------------------------------------------------------------------------


def test_policy_create_defaults_to_the_standard_labels_and_first_positive(lead):
    policy = services.policy_create(slug="spam", name="Spam", actor=lead)
    assert policy.labels == ["violating", "borderline", "not_violating"]
    assert policy.positive_labels == ["violating"]
    assert AuditEvent.objects.filter(action="policy.create", actor=lead).exists()


@pytest.mark.parametrize(
    "labels",
    [[], ["a", "a"], ["a", ""], [str(n) for n in range(10)]],
    ids=["empty", "duplicate", "blank", "ten"],
)
def test_policy_create_rejects_a_bad_label_set(labels):
    with pytest.raises(ValidationFailed):
        services.policy_create(slug="spam", name="Spam", labels=labels)


def test_policy_create_rejects_positive_labels_outside_the_set():
    with pytest.raises(ValidationFailed):
        services.policy_create(slug="spam", name="Spam", labels=["a", "b"], positive_labels=["c"])


def test_policy_create_refuses_a_taken_slug(policy):
    with pytest.raises(Conflict):
        services.policy_create(slug=policy.slug, name="Again")


def test_policy_update_starts_a_new_version_only_when_guidelines_or_labels_change(policy):
    policy = services.policy_update(policy=policy, name="Renamed")
    assert policy.version == 1
    policy = services.policy_update(policy=policy, guidelines="New rules")
    assert policy.version == 2
    policy = services.policy_update(policy=policy, guidelines="New rules")
    assert policy.version == 2


def test_policy_update_rejects_unknown_fields(policy):
    with pytest.raises(ValidationFailed):
        services.policy_update(policy=policy, slug="renamed")


def test_policy_update_keeps_positive_labels_inside_the_label_set(policy):
    with pytest.raises(ValidationFailed):
        services.policy_update(policy=policy, labels=["ok", "not_ok"])
    policy.refresh_from_db()
    assert policy.labels == ["violating", "borderline", "not_violating"]
    updated = services.policy_update(
        policy=policy, labels=["ok", "not_ok"], positive_labels=["not_ok"]
    )
    assert updated.positive_labels == ["not_ok"]


def test_queue_create_validates_its_settings(policy):
    with pytest.raises(ValidationFailed):
        services.queue_create(slug="q", name="Q", policies=[])
    with pytest.raises(ValidationFailed):
        services.queue_create(slug="q", name="Q", policies=[policy], overlap=0)
    with pytest.raises(ValidationFailed):
        services.queue_create(slug="q", name="Q", policies=[policy], min_agreement=0)
    with pytest.raises(ValidationFailed):
        services.queue_create(slug="q", name="Q", policies=[policy], order="random")


def test_queue_create_refuses_a_taken_slug(queue, policy):
    with pytest.raises(Conflict):
        services.queue_create(slug=queue.slug, name="Again", policies=[policy])


# --- ingest --------------------------------------------------------------------------------------


def test_ingest_creates_one_slot_per_overlap(overlap_queue):
    created = make_items(overlap_queue, 3)
    assert Lease.objects.filter(item__in=created).count() == 6
    assert set(Lease.objects.values_list("state", flat=True)) == {LeaseState.OPEN}


def test_ingest_is_idempotent_on_source_and_external_id(queue):
    first = services.items_ingest(
        queue=queue, items=[services.ItemInput(external_id="a", text="one")], source="s1"
    )
    again = services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id="a", text="changed"),
            services.ItemInput(external_id="b"),
        ],
        source="s1",
    )
    assert [item.external_id for item in again.created] == ["b"]
    assert [item.pk for item in again.existing] == [first.created[0].pk]
    assert Item.objects.get(pk=first.created[0].pk).text == "one"
    assert Lease.objects.filter(item_id=first.created[0].pk).count() == 1
    other_source = services.items_ingest(
        queue=queue, items=[services.ItemInput(external_id="a")], source="s2"
    )
    assert len(other_source.created) == 1


def test_ingest_survives_a_concurrent_insert_of_the_same_items(queue, monkeypatch):
    # The race: between this batch's lookup and its insert, another request stores item "a".
    original = ingest_module._ingest_once
    calls = []

    def racing(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            original(
                queue=queue, items=[services.ItemInput(external_id="a")], source="s", actor=None
            )
            raise IntegrityError("duplicate key value violates item_unique_per_source")
        return original(**kwargs)

    monkeypatch.setattr(ingest_module, "_ingest_once", racing)
    result = services.items_ingest(
        queue=queue,
        items=[services.ItemInput(external_id="a"), services.ItemInput(external_id="b")],
        source="s",
    )
    assert [item.external_id for item in result.created] == ["b"]
    assert [item.external_id for item in result.existing] == ["a"]
    assert Item.objects.filter(source="s").count() == 2


def test_ingest_stores_nothing_when_a_batch_repeats_an_external_id(queue):
    with pytest.raises(ValidationFailed) as error:
        services.items_ingest(
            queue=queue,
            items=[
                services.ItemInput(external_id="a"),
                services.ItemInput(external_id="b"),
                services.ItemInput(external_id="a"),
            ],
        )
    assert "2" in error.value.extra["rows"]
    assert not Item.objects.exists()


def test_set_priority_moves_item_and_slots(queue):
    (item,) = make_items(queue, 1)
    assert services.items_set_priority(priorities={item.pk: 9.5}) == 1
    item.refresh_from_db()
    assert item.priority == 9.5
    assert set(Lease.objects.filter(item=item).values_list("priority", flat=True)) == {9.5}
