"""Suspected label errors sent back for review (activelearning/label_error_review.py; TF-IDF)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from activelearning import services, tasks
from activelearning.label_error_review import REOPEN_REASON, label_errors_review
from activelearning.models import RunStatus, RunTrigger
from labeling import services as labeling_services
from labeling.models import AuditEvent, Item, ItemStatus, Label, LabelSource
from reviewtool.exceptions import Conflict
from tests.factories import PolicyFactory, make_queue

pytestmark = pytest.mark.django_db

SPAM_WORDS = ["win cash now", "free prize claim", "click this link to win", "cheap pills offer"]
HAM_WORDS = ["see you at lunch", "meeting moved to three", "thanks for the notes", "call mum"]
FLIPPED = {"s3", "s11", "s20", "h5", "h14", "h27"}


@pytest.fixture(autouse=True)
def _model_dir(settings, tmp_path):
    settings.REVIEWTOOL_MODEL_DIR = tmp_path / "models"


@pytest.fixture
def spam_policy(db):
    return PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"])


@pytest.fixture
def labelled(spam_policy, reviewer):
    """30 spam and 30 ham messages, resolved; six of the labels are flipped."""
    queue = make_queue(slug="sms", policies=[spam_policy], reviewers=[reviewer])
    inputs = [
        labeling_services.ItemInput(external_id=f"s{i}", text=f"{SPAM_WORDS[i % 4]} {i}")
        for i in range(30)
    ] + [
        labeling_services.ItemInput(external_id=f"h{i}", text=f"{HAM_WORDS[i % 4]} {i}")
        for i in range(30)
    ]
    items = labeling_services.items_ingest(queue=queue, items=inputs, source="test").created
    for item in items:
        value = "spam" if item.external_id.startswith("s") else "ham"
        if item.external_id in FLIPPED:
            value = "ham" if value == "spam" else "spam"
        labeling_services.label_store(
            item=item, policy=spam_policy, value=value, source=LabelSource.IMPORT, agreement=1.0
        )
    Item.objects.filter(queue=queue).update(status=ItemStatus.RESOLVED)
    return {item.pk: item.external_id for item in items}


def _train_champion(policy):
    run = services.training_run_create(policy=policy, trigger=RunTrigger.COMMAND)
    services.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.log


def test_it_reopens_mostly_the_flipped_labels(spam_policy, labelled, lead):
    _train_champion(spam_policy)
    review = label_errors_review(policy_id=spam_policy.pk, max_reopen=10, actor=lead)
    assert review.labels == 60
    found = {labelled[item_id] for item_id in review.reopened}
    assert len(found & FLIPPED) >= 5
    assert len(found - FLIPPED) <= 2
    assert review.suspected >= len(review.reopened)
    assert review.skipped == []
    reopened = Item.objects.filter(pk__in=review.reopened)
    assert {(item.status, item.review_round, item.reopen_reason) for item in reopened} == {
        (ItemStatus.PENDING, 1, REOPEN_REASON)
    }
    # The labels stay until a new review round replaces them.
    assert Label.objects.filter(item__in=reopened).count() == len(review.reopened)
    event = AuditEvent.objects.get(action="label_errors.review")
    assert event.actor == lead
    assert event.data["reopened"] == len(review.reopened)
    assert event.data["labels"] == 60


def test_a_second_run_skips_what_is_already_back_in_review(spam_policy, labelled):
    _train_champion(spam_policy)
    first = label_errors_review(policy_id=spam_policy.pk, max_reopen=3)
    second = label_errors_review(policy_id=spam_policy.pk, max_reopen=3)
    assert len(first.reopened) == 3
    assert set(second.skipped) == set(first.reopened)
    assert second.reopened == []


def test_it_refuses_without_a_champion(spam_policy, labelled):
    with pytest.raises(Conflict, match="no champion"):
        label_errors_review(policy_id=spam_policy.pk)


def test_it_refuses_with_too_few_labels(spam_policy, labelled):
    _train_champion(spam_policy)
    Label.objects.filter(policy=spam_policy, item__external_id__startswith="h").exclude(
        item__external_id__in=["h0", "h1", "h2", "h3"]
    ).delete()
    with pytest.raises(Conflict, match="Too few labels") as refused:
        label_errors_review(policy_id=spam_policy.pk)
    assert refused.value.extra["label_counts"]["ham"] < 10
    assert not Item.objects.filter(review_round__gt=0).exists()


def test_the_task_and_the_command_run_the_review(spam_policy, labelled, capsys):
    _train_champion(spam_policy)
    tasks.find_label_errors.delay(spam_policy.pk)
    assert Item.objects.filter(reopen_reason=REOPEN_REASON).exists()
    call_command("find_label_errors", "spam", "--max-reopen", "2")
    assert "labels: 60" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No policy"):
        call_command("find_label_errors", "nope")
