"""Review rounds: a resolved item reopened for another look (services.item_reopen)."""

from __future__ import annotations

import pytest

from labeling import services
from labeling.models import (
    AuditEvent,
    Decision,
    GoldenItem,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    LeaseState,
    Roles,
)
from reviewtool.exceptions import Conflict, ValidationFailed
from tests.factories import UserFactory, make_items, make_queue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fresh_eyes(db):
    return [UserFactory(username=name, roles=[Roles.REVIEWER]) for name in ("nina", "noah")]


def _decide(queue, user, value):
    lease = services.lease_next(queue=queue, reviewer=user)
    assert lease is not None and lease.token is not None
    decision = services.decision_submit(token=lease.token, reviewer=user, verdicts={"hate": value})
    return lease, decision


def test_a_reopened_item_is_reviewed_again_by_someone_else_and_its_label_replaced(
    queue, reviewer, other_reviewer, lead
):
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, "violating")
    item = services.item_reopen(item=item, reason="suspected label error", actor=lead)
    assert (item.status, item.review_round, item.reopen_reason) == (
        ItemStatus.PENDING,
        1,
        "suspected label error",
    )
    # The old label stays until the new round resolves.
    assert Label.objects.get(item=item).value == "violating"
    reopened = AuditEvent.objects.get(action="item.reopen", object_id=str(item.pk))
    assert reopened.actor == lead
    assert reopened.data["labels"] == {"hate": "violating"}
    # The reviewer who decided before is not offered it again; a different one is.
    assert services.lease_next(queue=queue, reviewer=reviewer) is None
    lease, decision = _decide(queue, other_reviewer, "not_violating")
    assert lease.slot == 1
    assert decision.review_round == 1
    item.refresh_from_db()
    assert item.status == ItemStatus.RESOLVED
    label = Label.objects.get(item=item)
    assert (label.value, label.source, label.confidence) == ("not_violating", "consensus", 1.0)
    history = AuditEvent.objects.get(action="label.replace", object_id=str(label.pk))
    assert history.data["previous"]["value"] == "violating"
    assert history.data["review_round"] == 1


def test_new_slots_follow_the_last_slot_and_only_new_round_decisions_count(
    policy, reviewer, other_reviewer, senior, fresh_eyes
):
    queue = make_queue(
        slug="double",
        policies=[policy],
        reviewers=[reviewer, other_reviewer, senior, *fresh_eyes],
        overlap=2,
    )
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, "violating")
    _decide(queue, other_reviewer, "violating")
    services.item_reopen(item=item, reason="policy v2")
    assert sorted(Lease.objects.filter(item=item).values_list("slot", flat=True)) == [0, 1, 2, 3]
    assert Lease.objects.filter(item=item, state=LeaseState.OPEN).count() == 2
    # Two old decisions plus one new are three, but only the new round's one counts.
    _decide(queue, fresh_eyes[0], "borderline")
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_REVIEW
    assert Label.objects.get(item=item).value == "violating"
    _decide(queue, fresh_eyes[1], "borderline")
    item.refresh_from_db()
    assert item.status == ItemStatus.RESOLVED
    label = Label.objects.get(item=item)
    assert (label.value, label.agreement) == ("borderline", 1.0)
    assert Decision.objects.filter(item=item, review_round=1).count() == 2


def test_an_undo_in_the_new_round_keeps_the_previous_label(queue, reviewer, other_reviewer, senior):
    queue.overlap = 2
    queue.save(update_fields=["overlap"])
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, "violating")
    _decide(queue, other_reviewer, "violating")
    services.item_reopen(item=item, reason="suspected label error")
    _, decision = _decide(queue, senior, "borderline")
    services.decision_undo(decision=decision, reviewer=senior)
    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING
    assert Label.objects.get(item=item).value == "violating"
    # Earlier rounds' closed slots stay closed: only this round's two are open or held.
    live = Lease.objects.filter(item=item).exclude(state=LeaseState.DONE)
    assert sorted(live.values_list("slot", flat=True)) == [2, 3]


def test_an_adjudicated_item_reopened_resolves_by_the_new_round(
    policy, reviewer, other_reviewer, senior, fresh_eyes
):
    queue = make_queue(
        slug="double",
        policies=[policy],
        reviewers=[reviewer, other_reviewer, senior, *fresh_eyes],
        overlap=2,
    )
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, "violating")
    _decide(queue, other_reviewer, "not_violating")
    services.item_adjudicate(item=item, reviewer=senior, verdicts={"hate": "violating"})
    services.item_reopen(item=item, reason="policy v2")
    for user in fresh_eyes:
        _decide(queue, user, "not_violating")
    item.refresh_from_db()
    assert item.status == ItemStatus.RESOLVED
    label = Label.objects.get(item=item)
    assert (label.value, label.source) == ("not_violating", LabelSource.CONSENSUS)


def test_only_a_resolved_item_with_a_reason_is_reopened(queue, reviewer):
    first, second = make_items(queue, 2)
    with pytest.raises(Conflict):
        services.item_reopen(item=first, reason="suspected label error")
    _decide(queue, reviewer, "violating")
    resolved = first if first.labels.exists() else second
    with pytest.raises(ValidationFailed):
        services.item_reopen(item=resolved, reason="  ")


def test_a_golden_item_is_not_reopened(queue, reviewer):
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, "violating")
    GoldenItem.objects.create(item=item, expected={"hate": "violating"})
    with pytest.raises(Conflict):
        services.item_reopen(item=item, reason="suspected label error")
