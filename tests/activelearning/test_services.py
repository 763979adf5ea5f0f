"""The live machine loop: training runs, the registry, rescoring and re-ranking (TF-IDF, eager)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from activelearning import model_setup, services, training
from activelearning.encoders import FusionEncoder, TfidfEncoder
from activelearning.models import (
    Champion,
    ModelStatus,
    ModelVersion,
    QueueLearning,
    RunStatus,
    RunTrigger,
    TrainingRun,
)
from labeling import services as labeling_services
from labeling.models import Item, LabelSource, Lease
from reviewtool.exceptions import Conflict, ValidationFailed
from tests.factories import PolicyFactory, make_queue

SPAM_WORDS = ["win cash now", "free prize claim", "click this link to win", "cheap pills offer"]
HAM_WORDS = ["see you at lunch", "meeting moved to three", "thanks for the notes", "call mum"]


@pytest.fixture
def spam_policy(db):
    return PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"], severity=2)


@pytest.fixture
def ml_queue(spam_policy, reviewer):
    return make_queue(slug="sms", policies=[spam_policy], reviewers=[reviewer])


@pytest.fixture(autouse=True)
def _model_dir(settings, tmp_path):
    settings.REVIEWTOOL_MODEL_DIR = tmp_path / "models"


def _ingest(queue, texts, prefix):
    return labeling_services.items_ingest(
        queue=queue,
        items=[
            labeling_services.ItemInput(external_id=f"{prefix}{index}", text=text)
            for index, text in enumerate(texts)
        ],
        source="test",
    ).created


def _label(items, policy, value):
    for item in items:
        labeling_services.label_store(
            item=item, policy=policy, value=value, source=LabelSource.IMPORT, agreement=1.0
        )


def _labelled_pool(queue, policy, per_class=15):
    spam = _ingest(queue, [f"{SPAM_WORDS[i % 4]} {i}" for i in range(per_class)], "s")
    ham = _ingest(queue, [f"{HAM_WORDS[i % 4]} {i}" for i in range(per_class)], "h")
    _label(spam, policy, "spam")
    _label(ham, policy, "ham")
    pool = _ingest(
        queue,
        [f"{SPAM_WORDS[i % 4]} today {i}" for i in range(10)]
        + [f"{HAM_WORDS[i % 4]} later {i}" for i in range(10)],
        "p",
    )
    return pool


@pytest.mark.django_db(transaction=True)
def test_a_run_trains_promotes_rescores_and_reranks(ml_queue, spam_policy, lead):
    pool = _labelled_pool(ml_queue, spam_policy)
    run = services.training_run_request(
        policy=spam_policy, trigger=RunTrigger.API, requested_by=lead
    )
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.log
    assert run.promoted
    version = ModelVersion.objects.get(pk=run.model_version_id)
    assert version.status == ModelStatus.CHAMPION
    assert Champion.objects.get(policy=spam_policy).model_version_id == version.pk
    assert version.label_counts == {"ham": 15, "spam": 15}
    assert len(version.artifact_sha256) == 64
    assert {"numpy", "scikit-learn"} <= set(version.library_versions)
    scored = {item.external_id: item for item in Item.objects.filter(pk__in=[i.pk for i in pool])}
    assert all(item.model_scores["spam"]["label"] in {"spam", "ham"} for item in scored.values())
    spammy = scored["p0"].model_scores["spam"]["proba"]["spam"]
    hammy = scored["p10"].model_scores["spam"]["proba"]["spam"]
    assert spammy > hammy
    # Re-ranked: priorities are distinct and the open slots follow their items.
    priorities = list(
        Item.objects.filter(pk__in=[i.pk for i in pool]).values_list("priority", flat=True)
    )
    assert len(set(priorities)) == len(priorities)
    lease = Lease.objects.filter(item=pool[0]).first()
    assert lease.priority == Item.objects.get(pk=pool[0].pk).priority
    assert QueueLearning.objects.get(queue=ml_queue).reranked_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_fusion_encoder_trains_a_stacked_head_that_serves_after_reload(
    ml_queue, spam_policy, lead, monkeypatch
):
    def two_tfidf_blocks(policy):
        return FusionEncoder(
            [TfidfEncoder(n_components=0), TfidfEncoder(n_components=0, max_char_features=64)]
        )

    monkeypatch.setattr(model_setup, "encoder_for", two_tfidf_blocks)
    pool = _labelled_pool(ml_queue, spam_policy)
    run = services.training_run_request(
        policy=spam_policy, trigger=RunTrigger.API, requested_by=lead
    )
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.log
    version = ModelVersion.objects.get(pk=run.model_version_id)
    blocks = version.params["blocks"]
    assert isinstance(blocks, list)
    assert len(blocks) == 2
    _, encoder, head = services.champion_model(policy=spam_policy)
    assert list(head.blocks) == blocks
    assert head.stack_coef_.size
    assert isinstance(encoder, FusionEncoder)
    assert list(encoder.feature_blocks()) == blocks
    scored = {item.external_id: item for item in Item.objects.filter(pk__in=[i.pk for i in pool])}
    assert (
        scored["p0"].model_scores["spam"]["proba"]["spam"]
        > scored["p10"].model_scores["spam"]["proba"]["spam"]
    )


@pytest.mark.django_db(transaction=True)
def test_a_second_request_while_one_is_queued_returns_the_same_run(ml_queue, spam_policy, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from reviewtool.celery import app

    app.conf.task_always_eager = False
    try:
        first = services.training_run_create(policy=spam_policy, trigger=RunTrigger.API)
        again = services.training_run_request(policy=spam_policy, trigger=RunTrigger.BUTTON)
    finally:
        app.conf.task_always_eager = True
    assert again.pk == first.pk


@pytest.mark.django_db(transaction=True)
def test_a_single_class_is_refused_and_creates_no_version(ml_queue, spam_policy):
    items = _ingest(ml_queue, [f"{SPAM_WORDS[0]} {i}" for i in range(20)], "s")
    _label(items, spam_policy, "spam")
    run = services.training_run_request(policy=spam_policy, trigger=RunTrigger.COMMAND)
    run.refresh_from_db()
    assert run.status == RunStatus.REFUSED
    assert "two classes" in run.error
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_too_few_labels_are_refused(ml_queue, spam_policy):
    _label(_ingest(ml_queue, ["win cash", "free prize"], "s"), spam_policy, "spam")
    _label(_ingest(ml_queue, ["lunch", "notes"], "h"), spam_policy, "ham")
    run = services.training_run_request(policy=spam_policy, trigger=RunTrigger.COMMAND)
    run.refresh_from_db()
    assert run.status == RunStatus.REFUSED
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_training_sets_its_thresholds_over_the_unlabelled_pool_too(
    ml_queue, spam_policy, monkeypatch
):
    pool = _labelled_pool(ml_queue, spam_policy)
    seen: dict[str, Any] = {}
    train = training.train_policy_model

    def spy(features, labels, **kwargs):
        seen.update(kwargs)
        return train(features, labels, **kwargs)

    monkeypatch.setattr(services, "train_policy_model", spy)
    run = services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.log
    # The 20 unlabelled items, each standing for itself; labelled items are not in the pool.
    assert seen["X_unlabelled"].shape[0] == len(pool) == 20
    assert seen["unlabelled_weight"] == 1.0
    assert any("thresholds also over 20 of the open unlabelled" in line for line in run.log)

    Item.objects.filter(pk__in=[item.pk for item in pool]).delete()
    services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    assert seen["X_unlabelled"] is None


@pytest.mark.django_db(transaction=True)
def test_a_crash_mid_training_fails_the_run_and_keeps_the_champion(
    ml_queue, spam_policy, monkeypatch
):
    _labelled_pool(ml_queue, spam_policy)
    first = services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    champion_before = Champion.objects.get(policy=spam_policy).model_version_id

    def explode(*args, **kwargs):
        raise MemoryError("simulated crash")

    monkeypatch.setattr(services, "train_policy_model", explode)
    second = services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    second.refresh_from_db()
    assert second.pk != first.pk
    assert second.status == RunStatus.FAILED
    assert "MemoryError" in second.error
    assert Champion.objects.get(policy=spam_policy).model_version_id == champion_before
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_task_does_not_train_twice(ml_queue, spam_policy):
    _labelled_pool(ml_queue, spam_policy)
    run = services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    assert services.training_run_execute(run_id=run.pk) is None
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_rollback_serves_an_earlier_version(ml_queue, spam_policy, lead):
    _labelled_pool(ml_queue, spam_policy)
    services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    first, second = ModelVersion.objects.order_by("number")
    assert Champion.objects.get(policy=spam_policy).model_version == second
    services.model_rollback(model_version=first, actor=lead)
    first.refresh_from_db()
    second.refresh_from_db()
    assert Champion.objects.get(policy=spam_policy).model_version == first
    assert first.status == ModelStatus.CHAMPION
    assert second.status == ModelStatus.RETIRED
    with pytest.raises(Conflict):
        services.model_rollback(model_version=first, actor=lead)


@pytest.mark.django_db(transaction=True)
def test_a_corrupted_artifact_is_refused_and_the_champion_keeps_serving(
    ml_queue, spam_policy, lead
):
    _labelled_pool(ml_queue, spam_policy)
    services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    first, second = ModelVersion.objects.order_by("number")
    path = Path(first.artifact_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(Conflict, match="checksum"):
        services.model_rollback(model_version=first, actor=lead)
    assert Champion.objects.get(policy=spam_policy).model_version == second
    assert services.champion_model(policy=spam_policy)[0] == second


@pytest.mark.django_db(transaction=True)
def test_new_labels_trigger_a_run_every_n(ml_queue, spam_policy, settings):
    settings.REVIEWTOOL_RETRAIN_EVERY = 30
    spam = _ingest(ml_queue, [f"{SPAM_WORDS[i % 4]} {i}" for i in range(15)], "s")
    ham = _ingest(ml_queue, [f"{HAM_WORDS[i % 4]} {i}" for i in range(15)], "h")
    _label(spam, spam_policy, "spam")
    assert not TrainingRun.objects.exists()
    _label(ham, spam_policy, "ham")
    run = TrainingRun.objects.get()
    assert run.trigger == RunTrigger.LABELS
    assert run.status == RunStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_died_is_marked_failed(spam_policy):
    run = TrainingRun.objects.create(policy=spam_policy, trigger=RunTrigger.API)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert services.training_runs_fail_stale() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_queue_learning_rejects_unknown_strategies_and_shares(ml_queue, lead):
    with pytest.raises(ValidationFailed):
        services.queue_learning_update(queue=ml_queue, strategy="psychic", actor=lead)
    with pytest.raises(ValidationFailed):
        services.queue_learning_update(queue=ml_queue, learning_share=1.5, actor=lead)
    learning = services.queue_learning_update(
        queue=ml_queue, strategy="entropy", learning_share=0.5, actor=lead
    )
    assert (learning.strategy, learning.learning_share) == ("entropy", 0.5)


def test_interleave_gives_the_strategy_its_share_of_the_head():
    learned = [101, 102, 103]
    enforcement = [*range(1, 11), 101, 102, 103]
    merged = services._interleave(learned, enforcement, 0.3)
    assert merged[:3] == [101, 102, 103]
    assert sorted(merged) == sorted(set(enforcement))
    assert services._interleave([], [1, 2, 3], 0.3) == [1, 2, 3]
    assert services._interleave([5], [1, 5], 0.0) == [1, 5]
