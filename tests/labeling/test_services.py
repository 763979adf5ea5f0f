"""Unit tests of the review loop's services: leases, decisions, consensus, undo, labels."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import (
    Decision,
    DecisionKind,
    Escalation,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    LeaseState,
    QueueOrder,
    Retraction,
    Skip,
)
from reviewtool.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from tests.factories import PolicyFactory, UserFactory, make_items, make_queue

pytestmark = pytest.mark.django_db


def token_of(lease: Lease | None) -> uuid.UUID:
    """The token of a lease that must exist and be held (narrows the types for mypy)."""
    assert lease is not None and lease.token is not None
    return lease.token


def _expire(lease: Lease) -> None:
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def _decide(queue, user, value="violating", **kwargs):
    lease = services.lease_next(queue=queue, reviewer=user)
    assert lease is not None
    decision = services.decision_submit(
        token=token_of(lease), reviewer=user, verdicts={"hate": value}, **kwargs
    )
    return lease, decision


# --- leases --------------------------------------------------------------------------------------


def test_it_never_leases_one_slot_twice(overlap_queue, reviewer, other_reviewer, senior, lead):
    make_items(overlap_queue, 3)
    granted = []
    for user in (reviewer, other_reviewer, senior, lead):
        tokens: list[uuid.UUID] = []
        while True:
            try:
                lease = services.lease_next(
                    queue=overlap_queue, reviewer=user, exclude_tokens=tokens
                )
            except Conflict:  # the per-reviewer limit of live leases
                break
            if lease is None:
                break
            tokens.append(token_of(lease))
            granted.append((lease.item_id, lease.slot, user.pk))
    slots = [(item_id, slot) for item_id, slot, _ in granted]
    assert len(slots) == len(set(slots)) == 6
    # Blind overlap: no reviewer holds two slots of one item.
    per_reviewer = [(item_id, user_id) for item_id, _, user_id in granted]
    assert len(per_reviewer) == len(set(per_reviewer))


def test_next_resumes_the_lease_already_held(queue, reviewer):
    make_items(queue, 3)
    first = services.lease_next(queue=queue, reviewer=reviewer)
    again = services.lease_next(queue=queue, reviewer=reviewer)
    assert first is not None and again is not None
    assert again.token == first.token
    other = services.lease_next(queue=queue, reviewer=reviewer, exclude_tokens=[token_of(first)])
    assert other is not None and other.item_id != first.item_id


def test_next_follows_the_queue_order(policy, reviewer):
    queue = make_queue(slug="old", policies=[policy], reviewers=[reviewer], order=QueueOrder.OLDEST)
    now = timezone.now()
    services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id="new", received_at=now, priority=9),
            services.ItemInput(external_id="old", received_at=now - timedelta(days=1)),
        ],
    )
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None and lease.item.external_id == "old"


def test_next_limits_live_leases_per_reviewer(queue, reviewer):
    make_items(queue, 5)
    tokens: list[uuid.UUID] = []
    for _ in range(services.MAX_ACTIVE_LEASES_PER_QUEUE):
        lease = services.lease_next(queue=queue, reviewer=reviewer, exclude_tokens=tokens)
        tokens.append(token_of(lease))
    with pytest.raises(Conflict):
        services.lease_next(queue=queue, reviewer=reviewer, exclude_tokens=tokens)


def test_next_refuses_a_reviewer_outside_the_queue(queue, outsider):
    make_items(queue, 1)
    with pytest.raises(Forbidden):
        services.lease_next(queue=queue, reviewer=outsider)


def test_a_reviewer_never_gets_an_item_they_decided_or_skipped(overlap_queue, reviewer):
    decided, skipped = make_items(overlap_queue, 2)
    lease = services.lease_next(queue=overlap_queue, reviewer=reviewer)
    assert lease is not None and lease.item_id == skipped.pk  # higher priority first
    services.lease_skip(token=token_of(lease), reviewer=reviewer)
    lease = services.lease_next(queue=overlap_queue, reviewer=reviewer)
    assert lease is not None and lease.item_id == decided.pk
    services.decision_submit(
        token=token_of(lease), reviewer=reviewer, verdicts={"hate": "violating"}
    )
    # Both items still have an open slot (overlap 2), yet neither comes back to this reviewer.
    assert services.lease_next(queue=overlap_queue, reviewer=reviewer) is None
    assert Skip.objects.filter(item=skipped, reviewer=reviewer).exists()


def test_an_expired_lease_returns_to_the_queue(queue, reviewer, other_reviewer):
    make_items(queue, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    assert services.lease_next(queue=queue, reviewer=other_reviewer) is None
    _expire(lease)
    taken = services.lease_next(queue=queue, reviewer=other_reviewer)
    assert taken is not None
    assert (taken.item_id, taken.slot) == (lease.item_id, lease.slot)
    assert taken.token != lease.token
    # The first reviewer's stale grant is refused as a conflict, not silently accepted.
    with pytest.raises(Conflict):
        services.decision_submit(
            token=token_of(lease), reviewer=reviewer, verdicts={"hate": "violating"}
        )


def test_an_expired_lease_is_refused(queue, reviewer):
    make_items(queue, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    _expire(lease)
    with pytest.raises(Conflict):
        services.decision_submit(
            token=token_of(lease), reviewer=reviewer, verdicts={"hate": "violating"}
        )
    with pytest.raises(Conflict):
        services.lease_skip(token=token_of(lease), reviewer=reviewer)
    assert not Decision.objects.exists()


def test_another_reviewers_lease_is_refused(queue, reviewer, other_reviewer):
    make_items(queue, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    with pytest.raises(Conflict):
        services.decision_submit(
            token=token_of(lease), reviewer=other_reviewer, verdicts={"hate": "violating"}
        )
    with pytest.raises(Conflict):
        services.lease_escalate(token=token_of(lease), reviewer=other_reviewer)


def test_a_malformed_token_is_not_found(queue, reviewer):
    with pytest.raises(NotFound):
        services.lease_skip(token="not-a-uuid", reviewer=reviewer)


def test_escalate_closes_every_slot(overlap_queue, reviewer, other_reviewer):
    (item,) = make_items(overlap_queue, 1)
    mine = services.lease_next(queue=overlap_queue, reviewer=reviewer)
    theirs = services.lease_next(queue=overlap_queue, reviewer=other_reviewer)
    assert mine is not None and theirs is not None
    escalation = services.lease_escalate(token=token_of(mine), reviewer=reviewer, note="threat?")
    assert escalation.note == "threat?"
    item.refresh_from_db()
    assert item.status == ItemStatus.ESCALATED
    assert set(Lease.objects.filter(item=item).values_list("state", flat=True)) == {LeaseState.DONE}
    with pytest.raises(Conflict):
        services.decision_submit(
            token=token_of(theirs), reviewer=other_reviewer, verdicts={"hate": "violating"}
        )
    assert Escalation.objects.filter(item=item).count() == 1


# --- decisions -----------------------------------------------------------------------------------


def test_a_decision_on_a_single_overlap_queue_becomes_a_label(queue, reviewer):
    make_items(queue, 3)
    lease, decision = _decide(queue, reviewer, idempotency_key="k1")
    label = Label.objects.get(item=lease.item)
    assert (label.value, label.source, label.agreement) == ("violating", "consensus", 1.0)
    assert label.policy_version == 1
    lease.item.refresh_from_db()
    assert lease.item.status == ItemStatus.RESOLVED
    assert decision.kind == DecisionKind.REVIEW


def test_a_retry_with_the_same_key_returns_the_stored_decision(queue, reviewer):
    make_items(queue, 1)
    lease, decision = _decide(queue, reviewer, idempotency_key="k1")
    again = services.decision_submit(
        token=lease.token, reviewer=reviewer, verdicts={"hate": "borderline"}, idempotency_key="k1"
    )
    assert again.pk == decision.pk
    assert Decision.objects.count() == 1


def test_a_second_submit_without_a_key_is_a_conflict(queue, reviewer):
    make_items(queue, 1)
    lease, _ = _decide(queue, reviewer)
    with pytest.raises(Conflict):
        services.decision_submit(
            token=lease.token, reviewer=reviewer, verdicts={"hate": "violating"}
        )


@pytest.mark.parametrize(
    "verdicts",
    [{}, {"hate": "maybe"}, {"hate": "violating", "spam": "violating"}, {"hate": None}],
    ids=["missing", "unknown-label", "unknown-policy", "null"],
)
def test_invalid_verdicts_are_refused_with_field_messages(queue, reviewer, verdicts):
    make_items(queue, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    with pytest.raises(ValidationFailed) as error:
        services.decision_submit(token=token_of(lease), reviewer=reviewer, verdicts=verdicts)
    assert error.value.extra["fields"]
    assert not Decision.objects.exists()
    lease.refresh_from_db()
    assert lease.state == LeaseState.LEASED


def test_overlap_two_with_agreement_becomes_a_label(overlap_queue, reviewer, other_reviewer):
    (item,) = make_items(overlap_queue, 1)
    _decide(overlap_queue, reviewer, "borderline")
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_REVIEW
    assert not Label.objects.exists()
    _decide(overlap_queue, other_reviewer, "borderline")
    item.refresh_from_db()
    assert item.status == ItemStatus.RESOLVED
    label = Label.objects.get(item=item)
    assert (label.value, label.source, label.agreement) == ("borderline", "consensus", 1.0)


def test_disagreement_goes_to_adjudication_and_the_senior_decides(
    overlap_queue, reviewer, other_reviewer, senior
):
    (item,) = make_items(overlap_queue, 1)
    _decide(overlap_queue, reviewer, "violating")
    _decide(overlap_queue, other_reviewer, "not_violating")
    item.refresh_from_db()
    assert item.status == ItemStatus.ADJUDICATION
    assert not Label.objects.exists()
    assert services.lease_next(queue=overlap_queue, reviewer=senior) is None
    decision = services.item_adjudicate(
        item=item, reviewer=senior, verdicts={"hate": "not_violating"}, note="satire"
    )
    assert decision.kind == DecisionKind.ADJUDICATION
    item.refresh_from_db()
    assert item.status == ItemStatus.RESOLVED
    label = Label.objects.get(item=item)
    assert (label.value, label.source, label.decided_by) == (
        "not_violating",
        LabelSource.ADJUDICATION,
        senior,
    )
    with pytest.raises(Conflict):
        services.item_adjudicate(item=item, reviewer=senior, verdicts={"hate": "violating"})


def test_min_agreement_below_one_accepts_a_majority(policy, reviewer, other_reviewer, senior):
    queue = make_queue(
        slug="three",
        policies=[policy],
        reviewers=[reviewer, other_reviewer, senior],
        overlap=3,
        min_agreement=0.6,
    )
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, "violating")
    _decide(queue, other_reviewer, "violating")
    _decide(queue, senior, "borderline")
    label = Label.objects.get(item=item)
    assert label.value == "violating"
    assert label.agreement == pytest.approx(2 / 3)


def test_only_adjudicators_adjudicate(overlap_queue, reviewer, other_reviewer):
    (item,) = make_items(overlap_queue, 1)
    _decide(overlap_queue, reviewer, "violating")
    _decide(overlap_queue, other_reviewer, "not_violating")
    with pytest.raises(Forbidden):
        services.item_adjudicate(item=item, reviewer=reviewer, verdicts={"hate": "violating"})


def test_an_escalated_item_is_adjudicated(queue, reviewer, lead):
    (item,) = make_items(queue, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    services.lease_escalate(token=token_of(lease), reviewer=reviewer)
    services.item_adjudicate(item=item, reviewer=lead, verdicts={"hate": "violating"})
    assert Label.objects.get(item=item).source == LabelSource.ADJUDICATION


# --- undo ----------------------------------------------------------------------------------------


def test_undo_while_the_lease_lasts_gives_the_slot_back(queue, reviewer):
    (item,) = make_items(queue, 1)
    lease, decision = _decide(queue, reviewer)
    assert Label.objects.filter(item=item).exists()
    reopened = services.decision_undo(decision=decision, reviewer=reviewer)
    assert reopened.pk == lease.pk and reopened.state == LeaseState.LEASED
    assert Retraction.objects.filter(decision=decision).exists()
    assert not Label.objects.filter(item=item).exists()
    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING
    # The same lease resumes, and a new decision resolves the item again.
    resumed = services.lease_next(queue=queue, reviewer=reviewer)
    assert resumed is not None and resumed.token == lease.token
    services.decision_submit(
        token=lease.token, reviewer=reviewer, verdicts={"hate": "not_violating"}
    )
    assert Label.objects.get(item=item).value == "not_violating"
    with pytest.raises(Conflict):
        services.decision_undo(decision=decision, reviewer=reviewer)


def test_undo_after_the_lease_ended_is_refused(queue, reviewer):
    make_items(queue, 1)
    lease, decision = _decide(queue, reviewer)
    _expire(lease)
    with pytest.raises(Conflict):
        services.decision_undo(decision=decision, reviewer=reviewer)
    assert not Retraction.objects.exists()


def test_only_the_author_undoes(queue, reviewer, other_reviewer):
    make_items(queue, 1)
    _, decision = _decide(queue, reviewer)
    with pytest.raises(Forbidden):
        services.decision_undo(decision=decision, reviewer=other_reviewer)


def test_an_adjudication_cannot_be_undone(overlap_queue, reviewer, other_reviewer, senior):
    (item,) = make_items(overlap_queue, 1)
    _decide(overlap_queue, reviewer, "violating")
    _decide(overlap_queue, other_reviewer, "not_violating")
    decision = services.item_adjudicate(item=item, reviewer=senior, verdicts={"hate": "violating"})
    with pytest.raises(Conflict):
        services.decision_undo(decision=decision, reviewer=senior)


def test_undo_in_an_overlap_queue_reopens_the_item(overlap_queue, reviewer, other_reviewer):
    (item,) = make_items(overlap_queue, 1)
    _, first = _decide(overlap_queue, reviewer, "violating")
    _decide(overlap_queue, other_reviewer, "violating")
    assert Label.objects.filter(item=item).exists()
    services.decision_undo(decision=first, reviewer=reviewer)
    item.refresh_from_db()
    assert item.status == ItemStatus.IN_REVIEW
    assert not Label.objects.filter(item=item).exists()


def test_undo_is_refused_once_the_item_went_to_adjudication(
    overlap_queue, reviewer, other_reviewer
):
    make_items(overlap_queue, 1)
    _, first = _decide(overlap_queue, reviewer, "violating")
    _decide(overlap_queue, other_reviewer, "not_violating")
    with pytest.raises(Conflict):
        services.decision_undo(decision=first, reviewer=reviewer)


# --- labels --------------------------------------------------------------------------------------


def test_label_store_rejects_an_unknown_label(queue, policy):
    (item,) = make_items(queue, 1)
    with pytest.raises(ValidationFailed):
        services.label_store(
            item=item, policy=policy, value="nope", source=LabelSource.IMPORT, agreement=None
        )
    assert not Label.objects.exists()


def test_label_store_replaces_the_label_and_stamps_the_policy_version(queue, policy):
    (item,) = make_items(queue, 1)
    services.label_store(
        item=item, policy=policy, value="violating", source=LabelSource.IMPORT, agreement=None
    )
    policy = services.policy_update(policy=policy, guidelines="Stricter")
    label = services.label_store(
        item=item, policy=policy, value="borderline", source=LabelSource.IMPORT, agreement=0.5
    )
    assert Label.objects.filter(item=item, policy=policy).count() == 1
    assert (label.value, label.policy_version) == ("borderline", 2)


def test_a_queue_with_two_policies_needs_both_verdicts(reviewer):
    hate, spam = PolicyFactory(slug="hate"), PolicyFactory(slug="spam")
    queue = make_queue(slug="two", policies=[hate, spam], reviewers=[reviewer])
    (item,) = make_items(queue, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    with pytest.raises(ValidationFailed) as error:
        services.decision_submit(
            token=token_of(lease), reviewer=reviewer, verdicts={"hate": "violating"}
        )
    assert set(error.value.extra["fields"]) == {"spam"}
    services.decision_submit(
        token=token_of(lease),
        reviewer=reviewer,
        verdicts={"hate": "violating", "spam": "not_violating"},
    )
    assert dict(Label.objects.filter(item=item).values_list("policy__slug", "value")) == {
        "hate": "violating",
        "spam": "not_violating",
    }


def test_staff_may_review_any_queue_without_membership(queue):
    engineer = UserFactory(username="eve", roles=["ml_engineer"])
    make_items(queue, 1)
    assert services.lease_next(queue=queue, reviewer=engineer) is not None
