"""Golden items (honeypots): serving share, own slots, never resolved or trained on, scoring,
accuracy and alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import golden, selectors, services
from labeling.models import (
    AuditEvent,
    Decision,
    GoldenItem,
    Item,
    ItemStatus,
    Label,
    Lease,
    LeaseState,
    QualityAlert,
    Queue,
)
from reviewtool.exceptions import Conflict, Forbidden, ValidationFailed
from tests.factories import make_items, make_queue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


RIGHT = "violating"
WRONG = "not_violating"


def golden_queue(policy, reviewers, *, share, overlap=1, slug="gq"):
    queue = make_queue(slug=slug, policies=[policy], reviewers=reviewers, overlap=overlap)
    Queue.objects.filter(pk=queue.pk).update(golden_share=share)
    queue.refresh_from_db()
    return queue


def add_golden(queue, senior, count, *, prefix="g"):
    items = make_items(queue, count, prefix=prefix)
    for item in items:
        golden.golden_add(item=item, expected={"hate": RIGHT}, actor=senior)
    return items


def decide_next(queue, user, verdict, *, commit=None):
    """Lease and decide; ``commit`` (django_capture_on_commit_callbacks) runs the on-commit
    work, such as the accuracy check, as a real commit would."""
    if commit is not None:
        with commit(execute=True):
            return decide_next(queue, user, verdict)
    lease = services.lease_next(queue=queue, reviewer=user)
    assert lease is not None
    services.decision_submit(token=lease.token, reviewer=user, verdicts={"hate": verdict})
    return lease


def golden_ids(queue):
    return set(GoldenItem.objects.filter(item__queue=queue).values_list("item_id", flat=True))


# --- serving -------------------------------------------------------------------------------------


def test_a_share_of_one_half_serves_every_second_item_golden(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.5)
    make_items(queue, 20, prefix="n")
    add_golden(queue, senior, 10)
    served = [decide_next(queue, reviewer, RIGHT).item_id for _ in range(10)]

    flags = [item_id in golden_ids(queue) for item_id in served]
    assert sum(flags) == 5
    assert flags == [True, False] * 5


def test_a_share_of_one_tenth_serves_one_in_ten(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.1)
    make_items(queue, 30, prefix="n")
    add_golden(queue, senior, 5)
    served = [decide_next(queue, reviewer, RIGHT).item_id for _ in range(20)]

    assert sum(item_id in golden_ids(queue) for item_id in served) == 2


def test_a_queue_without_a_golden_share_never_serves_golden_items(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.0)
    normal = make_items(queue, 3, prefix="n")
    add_golden(queue, senior, 3)
    served = [decide_next(queue, reviewer, RIGHT).item_id for _ in range(3)]

    assert sorted(served) == sorted(item.pk for item in normal)
    assert services.lease_next(queue=queue, reviewer=reviewer) is None


def test_the_prefetched_item_counts_towards_the_share(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.5)
    make_items(queue, 4, prefix="n")
    add_golden(queue, senior, 4)
    first = services.lease_next(queue=queue, reviewer=reviewer)
    second = services.lease_next(queue=queue, reviewer=reviewer, exclude_tokens=[first.token])

    assert {first.item_id in golden_ids(queue), second.item_id in golden_ids(queue)} == {
        True,
        False,
    }


def test_golden_items_are_not_consumed_by_overlap(policy, reviewer, other_reviewer, senior, lead):
    queue = golden_queue(policy, [reviewer, other_reviewer, senior], share=1.0, overlap=1)
    [item] = add_golden(queue, senior, 1)

    for user in (reviewer, other_reviewer, senior, lead):
        lease = decide_next(queue, user, RIGHT)
        assert lease.item_id == item.pk

    assert Decision.objects.filter(item=item).count() == 4
    assert (
        Lease.objects.filter(item=item, state=LeaseState.DONE, reviewer__isnull=False).count() == 4
    )


def test_a_reviewer_is_never_served_a_golden_item_twice(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=1.0)
    add_golden(queue, senior, 2)
    decide_next(queue, reviewer, RIGHT)
    decide_next(queue, reviewer, RIGHT)

    assert services.lease_next(queue=queue, reviewer=reviewer) is None


def test_a_skipped_golden_slot_goes_back_to_the_golden_pool_only(
    policy, reviewer, other_reviewer, senior
):
    queue = golden_queue(policy, [reviewer, other_reviewer], share=1.0)
    [item] = add_golden(queue, senior, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    services.lease_skip(token=lease.token, reviewer=reviewer)
    Queue.objects.filter(pk=queue.pk).update(golden_share=0.0)
    queue.refresh_from_db()

    # The ordinary scan never takes a golden slot, even an open one.
    assert services.lease_next(queue=queue, reviewer=other_reviewer) is None
    Queue.objects.filter(pk=queue.pk).update(golden_share=1.0)
    queue.refresh_from_db()
    again = services.lease_next(queue=queue, reviewer=other_reviewer)
    assert again.pk == lease.pk  # the open slot is reused, not a new row
    assert again.item_id == item.pk
    assert services.lease_next(queue=queue, reviewer=reviewer) is None  # skipped stays skipped


def test_an_expired_golden_slot_is_not_taken_by_the_ordinary_scan(
    policy, reviewer, other_reviewer, senior
):
    queue = golden_queue(policy, [reviewer, other_reviewer], share=1.0)
    add_golden(queue, senior, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    Queue.objects.filter(pk=queue.pk).update(golden_share=0.0)
    queue.refresh_from_db()

    assert services.lease_next(queue=queue, reviewer=other_reviewer) is None


# --- never resolved, never labelled, never trained on --------------------------------------------


def test_golden_items_are_never_resolved_or_labelled(policy, reviewer, other_reviewer, senior):
    queue = golden_queue(policy, [reviewer, other_reviewer], share=1.0, overlap=2)
    [item] = add_golden(queue, senior, 1)
    decide_next(queue, reviewer, RIGHT)
    decide_next(queue, other_reviewer, RIGHT)

    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING
    assert not Label.objects.filter(item=item).exists()


def test_golden_items_never_train_models(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.0)
    [item] = make_items(queue, 1)
    decide_next(queue, reviewer, RIGHT)
    assert [row[0] for row in selectors.labeled_examples(policy=policy)] == [item.pk]

    golden.golden_add(item=item, expected={"hate": RIGHT}, actor=senior)

    assert selectors.labeled_examples(policy=policy) == []


def test_making_a_resolved_item_golden_puts_it_back_in_the_queue(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.0)
    [item] = make_items(queue, 1)
    decide_next(queue, reviewer, RIGHT)
    item.refresh_from_db()
    assert item.status == ItemStatus.RESOLVED

    golden.golden_add(item=item, expected={"hate": RIGHT}, actor=senior)

    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING
    assert not Lease.objects.filter(item=item).exclude(state=LeaseState.DONE).exists()


def test_making_an_item_golden_closes_its_overlap_slots(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.0, overlap=3)
    [item] = make_items(queue, 1)

    golden.golden_add(item=item, expected={"hate": RIGHT}, actor=senior)

    assert set(Lease.objects.filter(item=item).values_list("state", flat=True)) == {LeaseState.DONE}
    assert services.lease_next(queue=queue, reviewer=reviewer) is None


# --- curation ------------------------------------------------------------------------------------


def test_only_senior_reviewers_leads_and_admins_add_golden_items(queue, reviewer, lead, senior):
    [item] = make_items(queue, 1)
    with pytest.raises(Forbidden):
        golden.golden_add(item=item, expected={"hate": RIGHT}, actor=reviewer)
    golden.golden_add(item=item, expected={"hate": RIGHT}, actor=lead)
    golden.golden_add(item=item, expected={"hate": WRONG}, actor=senior)

    assert GoldenItem.objects.get(item=item).expected == {"hate": WRONG}
    assert list(
        AuditEvent.objects.filter(object_type="goldenitem")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["golden.add", "golden.update"]


@pytest.mark.parametrize(
    "expected",
    [{}, {"spam": RIGHT}, {"hate": "maybe"}, ["hate"]],
)
def test_expected_verdicts_are_validated(queue, senior, expected):
    [item] = make_items(queue, 1)
    with pytest.raises(ValidationFailed):
        golden.golden_add(item=item, expected=expected, actor=senior)
    assert not GoldenItem.objects.exists()


def test_an_item_waiting_for_adjudication_cannot_become_golden(queue, senior):
    [item] = make_items(queue, 1)
    Item.objects.filter(pk=item.pk).update(status=ItemStatus.ADJUDICATION)
    with pytest.raises(Conflict):
        golden.golden_add(item=item, expected={"hate": RIGHT}, actor=senior)


# --- scoring -------------------------------------------------------------------------------------


def test_a_golden_answer_is_scored_per_policy_and_audited(reviewer, senior, policy):
    from tests.factories import PolicyFactory

    spam = PolicyFactory(slug="spam", name="Spam")
    queue = make_queue(slug="two", policies=[policy, spam], reviewers=[reviewer])
    [item] = make_items(queue, 1)
    golden.golden_add(item=item, expected={"hate": RIGHT, "spam": RIGHT}, actor=senior)
    Queue.objects.filter(pk=queue.pk).update(golden_share=1.0)
    queue.refresh_from_db()
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    decision = services.decision_submit(
        token=lease.token, reviewer=reviewer, verdicts={"hate": RIGHT, "spam": WRONG}
    )

    event = AuditEvent.objects.get(action="golden.answer")  # written by decision_submit
    assert event.data["correct"] == {"hate": True, "spam": False}
    score = golden.golden_score_decision(decision=decision)
    assert score is not None
    assert score.correct == {"hate": True, "spam": False}
    rows = {(row.policy, row.correct, row.answers) for row in golden.reviewer_accuracy()}
    assert rows == {("hate", 1, 1), ("spam", 0, 1)}


def test_ordinary_decisions_are_not_scored(queue, reviewer):
    make_items(queue, 1)
    decide_next(queue, reviewer, RIGHT)
    decision = Decision.objects.get()

    assert golden.golden_score_decision(decision=decision) is None
    assert not AuditEvent.objects.filter(action="golden.answer").exists()


def test_an_undone_golden_answer_does_not_count(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=1.0)
    add_golden(queue, senior, 1)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    decision = services.decision_submit(
        token=lease.token, reviewer=reviewer, verdicts={"hate": WRONG}
    )
    services.decision_undo(decision=decision, reviewer=reviewer)

    assert golden.reviewer_accuracy() == []


def test_answers_given_before_an_item_became_golden_do_not_count(policy, reviewer, senior):
    queue = golden_queue(policy, [reviewer], share=0.0)
    [item] = make_items(queue, 1)
    decide_next(queue, reviewer, WRONG)
    Decision.objects.update(created_at=timezone.now() - timedelta(days=1))

    golden.golden_add(item=item, expected={"hate": RIGHT}, actor=senior)

    assert golden.reviewer_accuracy() == []


# --- alerts --------------------------------------------------------------------------------------


def test_low_accuracy_opens_one_alert_and_one_audit_event(
    policy, reviewer, senior, django_capture_on_commit_callbacks
):
    queue = golden_queue(policy, [reviewer], share=1.0)
    add_golden(queue, senior, 8)
    for verdict in [RIGHT, WRONG, WRONG, WRONG]:
        decide_next(queue, reviewer, verdict, commit=django_capture_on_commit_callbacks)
    assert not QualityAlert.objects.exists()  # 4 answers: below the minimum of 5

    decide_next(queue, reviewer, WRONG, commit=django_capture_on_commit_callbacks)  # 1 of 5 right
    decide_next(queue, reviewer, WRONG, commit=django_capture_on_commit_callbacks)

    alert = QualityAlert.objects.get()
    assert (alert.reviewer, alert.policy) == (reviewer, policy)
    assert alert.accuracy == pytest.approx(0.2)
    assert alert.golden_answers == 5
    assert alert.threshold == pytest.approx(0.8)
    assert AuditEvent.objects.filter(action="quality.alert").count() == 1


def test_good_accuracy_opens_no_alert(policy, reviewer, senior, django_capture_on_commit_callbacks):
    queue = golden_queue(policy, [reviewer], share=1.0)
    add_golden(queue, senior, 5)
    for verdict in [RIGHT, RIGHT, RIGHT, RIGHT, WRONG]:  # 0.8 is not below 0.8
        decide_next(queue, reviewer, verdict, commit=django_capture_on_commit_callbacks)

    assert not QualityAlert.objects.exists()


def test_the_minimum_number_of_answers_is_a_setting(
    policy, reviewer, senior, settings, django_capture_on_commit_callbacks
):
    settings.REVIEWTOOL_GOLDEN_MIN_ANSWERS = 2
    queue = golden_queue(policy, [reviewer], share=1.0)
    add_golden(queue, senior, 2)
    decide_next(queue, reviewer, WRONG, commit=django_capture_on_commit_callbacks)
    assert not QualityAlert.objects.exists()
    decide_next(queue, reviewer, WRONG, commit=django_capture_on_commit_callbacks)
    assert QualityAlert.objects.count() == 1


def test_after_acknowledgement_a_new_alert_needs_fresh_answers(
    policy, reviewer, senior, lead, django_capture_on_commit_callbacks
):
    settings_min = golden.min_golden_answers()
    queue = golden_queue(policy, [reviewer], share=1.0)
    add_golden(queue, senior, settings_min * 2 + 1)
    for _ in range(settings_min):
        decide_next(queue, reviewer, WRONG, commit=django_capture_on_commit_callbacks)
    alert = QualityAlert.objects.get()

    golden.quality_alert_acknowledge(alert=alert, actor=lead)
    with pytest.raises(Conflict):
        golden.quality_alert_acknowledge(alert=alert, actor=lead)
    for _ in range(settings_min - 1):
        decide_next(queue, reviewer, WRONG, commit=django_capture_on_commit_callbacks)
    assert QualityAlert.objects.count() == 1
    decide_next(queue, reviewer, WRONG, commit=django_capture_on_commit_callbacks)

    assert QualityAlert.objects.count() == 2
    assert QualityAlert.objects.filter(acknowledged_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(action="quality.alert.acknowledge").count() == 1


def test_only_leads_and_admins_acknowledge_alerts(policy, reviewer, senior):
    alert = QualityAlert.objects.create(
        reviewer=reviewer, policy=policy, accuracy=0.1, threshold=0.8, golden_answers=5
    )
    with pytest.raises(Forbidden):
        golden.quality_alert_acknowledge(alert=alert, actor=senior)


def test_the_check_task_is_idempotent(policy, reviewer, senior):
    from labeling.tasks import check_reviewer_accuracy

    queue = golden_queue(policy, [reviewer], share=1.0)
    add_golden(queue, senior, 5)
    for _ in range(5):
        decide_next(queue, reviewer, WRONG)
    check_reviewer_accuracy(reviewer.pk, policy.pk)
    check_reviewer_accuracy(reviewer.pk, policy.pk)

    assert QualityAlert.objects.count() == 1


# --- import --------------------------------------------------------------------------------------


def test_golden_import_is_all_or_nothing(queue, senior):
    make_items(queue, 2)
    rows = [
        golden.GoldenRow(source="test", external_id="x0", expected={"hate": RIGHT}),
        golden.GoldenRow(source="test", external_id="missing", expected={"hate": RIGHT}),
        golden.GoldenRow(source="test", external_id="x1", expected={"hate": "maybe"}),
    ]
    with pytest.raises(ValidationFailed) as raised:
        golden.golden_import(rows=rows, actor=senior)

    assert set(raised.value.extra["rows"]) == {"1", "2"}
    assert not GoldenItem.objects.exists()

    result = golden.golden_import(rows=rows[:1], actor=senior)
    assert (result.added, result.updated) == (1, 0)


def test_the_golden_import_command_reads_csv_and_jsonl(queue, senior, tmp_path):
    from django.core.management import call_command

    make_items(queue, 3)
    csv_file = tmp_path / "gold.csv"
    csv_file.write_text("source,external_id,hate\ntest,x0,violating\ntest,x1,not_violating\n")
    jsonl_file = tmp_path / "gold.jsonl"
    jsonl_file.write_text(
        '{"source": "test", "external_id": "x2", "expected": {"hate": "borderline"}}\n'
        '{"source": "test", "external_id": "x0", "expected": {"hate": "borderline"}}\n'
    )

    call_command("golden_import", str(csv_file), actor=senior.username)
    call_command("golden_import", str(jsonl_file), actor=senior.username)

    expected = dict(GoldenItem.objects.values_list("item__external_id", "expected__hate"))
    assert expected == {"x0": "borderline", "x1": "not_violating", "x2": "borderline"}
