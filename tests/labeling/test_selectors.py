"""Unit tests of the human loop's reads (labeling/selectors.py): who sees what."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import selectors, services
from labeling.models import LabelSource, Lease
from tests.factories import PolicyFactory, make_items, make_queue

pytestmark = pytest.mark.django_db


def token_of(lease: Lease | None) -> uuid.UUID:
    """The token of a lease that must exist and be held (narrows the types for mypy)."""
    assert lease is not None and lease.token is not None
    return lease.token


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def hidden_queue():
    return make_queue(slug="hidden", policies=[PolicyFactory(slug="spam")])


def _decide(queue, user, value="violating", **kwargs):
    lease = services.lease_next(queue=queue, reviewer=user)
    assert lease is not None
    decision = services.decision_submit(
        token=token_of(lease), reviewer=user, verdicts={"hate": value}, **kwargs
    )
    return lease, decision


def test_reviewers_see_their_queues_staff_see_all(queue, hidden_queue, reviewer, lead, outsider):
    assert list(selectors.queues_for_user(reviewer)) == [queue]
    assert list(selectors.queues_for_user(lead)) == [hidden_queue, queue]
    assert list(selectors.queues_for_user(outsider)) == []


def test_queue_counts_are_not_multiplied_by_co_reviewers(queue, reviewer, other_reviewer, lead):
    make_items(queue, 3)
    _decide(queue, reviewer)
    for user in (reviewer, lead):
        (row,) = selectors.queues_with_counts(user).filter(pk=queue.pk)
        names = ("pending", "in_review", "adjudication", "escalated", "resolved")
        counts = tuple(getattr(row, f"{name}_count") for name in names)
        assert counts == (2, 0, 0, 0, 1)


def test_policies_for_user_are_distinct(policy, reviewer, lead, hidden_queue):
    make_queue(slug="second", policies=[policy], reviewers=[reviewer])
    make_queue(slug="third", policies=[policy], reviewers=[reviewer])
    assert list(selectors.policies_for_user(reviewer)) == [policy]
    assert {p.slug for p in selectors.policies_for_user(lead)} == {"hate", "spam"}


def test_items_for_user_filters_and_hides_other_queues(queue, hidden_queue, reviewer, lead):
    services.items_ingest(queue=queue, items=[services.ItemInput(external_id="a")], source="s1")
    services.items_ingest(queue=hidden_queue, items=[services.ItemInput(external_id="b")])
    assert [item.external_id for item in selectors.items_for_user(reviewer)] == ["a"]
    assert selectors.items_for_user(reviewer, queue="hidden").count() == 0
    assert selectors.items_for_user(lead).count() == 2
    assert selectors.items_for_user(lead, source="s1", external_id="a").count() == 1
    assert selectors.items_for_user(lead, status="resolved").count() == 0


def test_labels_for_user_filters(queue, hidden_queue, reviewer, lead):
    (item,) = make_items(queue, 1)
    (hidden,) = make_items(hidden_queue, 1, prefix="h")
    _decide(queue, reviewer)
    spam = hidden_queue.policies.get()
    services.label_store(
        item=hidden, policy=spam, value="violating", source=LabelSource.IMPORT, agreement=None
    )
    assert [label.item_id for label in selectors.labels_for_user(reviewer)] == [item.pk]
    assert selectors.labels_for_user(lead).count() == 2
    assert selectors.labels_for_user(lead, policy="spam").get().item_id == hidden.pk
    assert selectors.labels_for_user(lead, source=LabelSource.CONSENSUS).get().item_id == item.pk
    assert selectors.labels_for_user(lead, queue="main").count() == 1
    later = timezone.now() + timedelta(minutes=1)
    assert selectors.labels_for_user(lead, since=later).count() == 0


def test_decisions_reviewers_see_only_their_own(queue, reviewer, other_reviewer, senior, lead):
    make_items(queue, 2)
    _decide(queue, reviewer)
    _, theirs = _decide(queue, other_reviewer)
    assert {d.reviewer for d in selectors.decisions_for_user(reviewer)} == {reviewer}
    assert selectors.decisions_for_user(senior).count() == 2  # adjudicators see their queues
    assert selectors.decisions_for_user(lead).count() == 2
    assert selectors.decisions_for_user(lead, mine=True).count() == 0
    assert selectors.decisions_for_user(lead, item=theirs.item_id).get() == theirs
    assert selectors.decisions_for_user(lead, queue="other").count() == 0
    # A filter never widens what a reviewer sees.
    assert selectors.decisions_for_user(reviewer, item=theirs.item_id).count() == 0


def test_a_senior_sees_decisions_of_their_queues_only(policy, reviewer, senior):
    elsewhere = make_queue(slug="elsewhere", policies=[policy], reviewers=[reviewer])
    make_items(elsewhere, 1)
    _decide(elsewhere, reviewer)
    assert selectors.decisions_for_user(senior).count() == 0


def test_decision_by_idempotency_key_is_per_reviewer(queue, reviewer, other_reviewer):
    make_items(queue, 1)
    _, decision = _decide(queue, reviewer, idempotency_key="k")
    assert selectors.decision_by_idempotency_key(reviewer, key="k") == decision
    assert selectors.decision_by_idempotency_key(other_reviewer, key="k") is None
    assert selectors.decision_by_idempotency_key(reviewer, key="other") is None


def test_recent_decisions_say_whether_they_can_be_undone(queue, reviewer):
    make_items(queue, 3)
    _, live = _decide(queue, reviewer)
    ended_lease, ended = _decide(queue, reviewer)
    Lease.objects.filter(pk=ended_lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _, undone = _decide(queue, reviewer)
    services.decision_undo(decision=undone, reviewer=reviewer)
    rows = {row["decision"].pk: row["undoable"] for row in selectors.recent_decisions(reviewer)}
    assert rows == {live.pk: True, ended.pk: False, undone.pk: False}


def test_adjudication_backlog(policy, reviewer, other_reviewer, senior, lead):
    queue = make_queue(
        slug="double", policies=[policy], reviewers=[reviewer, other_reviewer, senior], overlap=2
    )
    _agreed, disagreed = make_items(queue, 2)  # "disagreed" has the higher priority
    _decide(queue, reviewer, "violating")  # disagreed
    _decide(queue, reviewer, "violating")  # agreed
    _decide(queue, other_reviewer, "not_violating")  # disagreed
    _decide(queue, other_reviewer, "violating")  # agreed
    assert selectors.adjudication_backlog(reviewer).count() == 0
    backlog = list(selectors.adjudication_backlog(senior))
    assert [item.pk for item in backlog] == [disagreed.pk]
    (item,) = backlog
    decisions = list(item.decisions.all())
    assert len(decisions) == 2
    assert not any(getattr(decision, "retracted", True) for decision in decisions)
    assert selectors.adjudication_backlog(lead).count() == 1


def test_live_leases(queue, reviewer):
    make_items(queue, 2)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    assert list(selectors.live_leases(reviewer, queue=queue)) == [lease]
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert list(selectors.live_leases(reviewer, queue=queue)) == []


@pytest.mark.django_db
def test_a_reviewer_does_not_see_the_old_label_of_an_item_back_in_review(queue, reviewer, lead):
    item = make_items(queue, 1)[0]
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    services.decision_submit(token=lease.token, reviewer=reviewer, verdicts={"hate": "violating"})
    assert selectors.labels_for_user(reviewer).filter(item=item).exists()
    services.item_reopen(item=item, reason="suspected label error", actor=lead)
    assert not selectors.labels_for_user(reviewer).filter(item=item).exists()
    assert selectors.labels_for_user(lead).filter(item=item).exists()
