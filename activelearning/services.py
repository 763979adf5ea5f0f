"""Writes of the machine loop: training runs, the model registry, rescoring and re-ranking.

Labels are read through ``labeling.selectors``; priorities and scores are written through
``labeling.services``. Artifacts are checked against their SHA-256 before every load.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from activelearning import artifacts, model_setup, strategies
from activelearning.encoders import Encoder, default_text_encoder_name
from activelearning.features import ItemText, embeddings_store, encoder_fit, feature_matrix
from activelearning.loop import bootstrap_committee
from activelearning.models import (
    Champion,
    ModelStatus,
    ModelVersion,
    QueueLearning,
    RunStatus,
    RunTrigger,
    TrainingRun,
)
from activelearning.thresholds import pool_sample
from activelearning.training import TextClassifierHead, TrainingRefused, train_policy_model
from labeling import selectors as labeling_selectors
from labeling import services as labeling_services
from labeling.models import Item, Label, Policy, Queue
from reviewtool.celery import enqueue
from reviewtool.exceptions import Conflict, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# Fewer labels of a class than this cannot give a held-out estimate worth promoting on.
MIN_LABELS_PER_CLASS = 10


def _model_dir() -> Path:
    path = Path(settings.REVIEWTOOL_MODEL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- training runs -------------------------------------------------------------------------------


def training_run_request(
    *, policy: Policy, trigger: RunTrigger | str, requested_by: Any = None
) -> TrainingRun:
    """Queue a training run for ``policy``; an already queued or running one is returned instead."""
    with transaction.atomic():
        Policy.objects.select_for_update().get(pk=policy.pk)  # one requester at a time per policy
        active = TrainingRun.objects.filter(policy=policy, status__in=ACTIVE_STATUSES).first()
        if active is not None:
            return active
        run = training_run_create(policy=policy, trigger=trigger, requested_by=requested_by)
        transaction.on_commit(lambda: enqueue("activelearning.train_candidate", run.pk))
    return run


def training_run_create(
    *, policy: Policy, trigger: RunTrigger | str, requested_by: Any = None
) -> TrainingRun:
    """A queued run row, not yet sent to a worker (``retrain --now`` executes it in-process)."""
    run = TrainingRun.objects.create(
        policy=policy,
        trigger=RunTrigger(trigger),
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
    )
    labeling_services.audit_record(
        actor=requested_by, action="training.request", obj=run, data={"trigger": str(trigger)}
    )
    return run


def _log(run: TrainingRun, message: str, progress: float | None = None) -> None:
    """Append a log line (and progress) to the run row right away, outside any transaction."""
    stamp = timezone.now()
    run.log = [*run.log, f"{stamp:%H:%M:%S} {message}"]
    fields = ["log", "heartbeat_at"]
    run.heartbeat_at = stamp
    if progress is not None:
        run.progress = progress
        fields.append("progress")
    run.save(update_fields=fields)
    logger.info("training run %s: %s", run.pk, message)


def training_run_execute(*, run_id: int) -> TrainingRun | None:
    """Claim and carry out a queued run: train, record the candidate, promote if it is better.

    The claim is a compare-and-swap on the status, so a redelivered task does nothing. Any
    failure leaves the run failed and the champion untouched; promotion happens only in the
    final, atomic step.
    """
    claimed = TrainingRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    if not claimed:
        return None
    run = TrainingRun.objects.select_related("policy").get(pk=run_id)
    try:
        version = _train_candidate(run)
    except TrainingRefused as refusal:
        _finish(run, RunStatus.REFUSED, f"refused: {refusal}")
        return run
    except Exception as error:
        logger.exception("training run %s failed", run_id)
        _finish(run, RunStatus.FAILED, f"failed: {type(error).__name__}: {error}")
        return run
    promoted = _promote_if_better(run=run, candidate=version)
    run.model_version = version
    run.promoted = promoted
    run.save(update_fields=["model_version", "promoted"])
    _finish(run, RunStatus.SUCCEEDED, "promoted" if promoted else "kept the champion")
    return run


def _finish(run: TrainingRun, status: RunStatus, message: str) -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.error = message if status in (RunStatus.FAILED, RunStatus.REFUSED) else ""
    run.save(update_fields=["status", "finished_at", "error"])
    _log(run, message, progress=1.0)


def _train_candidate(run: TrainingRun) -> ModelVersion:
    policy = run.policy
    examples = labeling_selectors.labeled_examples(policy=policy)
    _log(run, f"{len(examples)} labels", progress=0.05)
    _refuse_untrainable(policy=policy, values=[value for _, _, value in examples])
    encoder = model_setup.encoder_for(policy)
    items: list[ItemText] = [(item_id, text) for item_id, text, _ in examples]
    if encoder.requires_fit:
        encoder_fit(encoder=encoder, items=items)
    _log(run, f"encoding with {encoder.name}", progress=0.15)
    features = feature_matrix(encoder=encoder, items=items)
    pool, pool_weight = _pool_sample(
        policy=policy, encoder=encoder, labelled={item_id for item_id, _ in items}, seed=run.pk
    )
    if pool is not None:
        _log(run, f"decision thresholds also over {pool.shape[0]} of the open unlabelled items")
    _log(run, f"training on {features.shape[0]} x {features.shape[1]}", progress=0.5)
    result = train_policy_model(
        features,
        np.asarray([value for _, _, value in examples]),
        item_ids=[item_id for item_id, _ in items],
        params=model_setup.head_params(encoder),
        rng_seed=run.pk,
        refit_on_all=True,
        min_labels_per_class=MIN_LABELS_PER_CLASS,
        X_unlabelled=pool,
        unlabelled_weight=pool_weight,
    )
    _log(run, f"held-out macro-F1 {result.metrics['macro_f1']:.3f}", progress=0.85)
    return _register(run=run, encoder=encoder, result=result, label_total=len(examples))


def _pool_sample(
    *, policy: Policy, encoder: Encoder, labelled: set[int], seed: int
) -> tuple[Any, float]:
    """Features of a uniform sample of the policy's open items without a label (``None`` when
    there are none) and how many pool items each row stands for: the head sets its decision
    thresholds over labelled and pool items together (``activelearning.thresholds``)."""
    open_ids = labeling_selectors.unlabeled_items(policy=policy).values_list("id", flat=True)
    ids = [item_id for item_id in open_ids if item_id not in labelled]
    if not ids:
        return None, 1.0
    rows, weight = pool_sample(len(ids), np.random.default_rng(seed))
    chosen = {ids[row] for row in rows}
    items = list(Item.objects.filter(id__in=chosen).order_by("id").values_list("id", "text"))
    return feature_matrix(encoder=encoder, items=items), weight


def _refuse_untrainable(*, policy: Policy, values: Sequence[str]) -> None:
    """Refuse before any encoding: one class, or fewer than the minimum labels of some class."""
    counts = Counter(values)
    if len(counts) < 2:
        raise TrainingRefused(
            f"training needs labels of at least two classes; {policy.slug} has "
            f"{len(values)} label(s) of {len(counts)} class(es)"
        )
    scarce = {value: count for value, count in counts.items() if count < MIN_LABELS_PER_CLASS}
    if scarce:
        raise TrainingRefused(
            f"training needs at least {MIN_LABELS_PER_CLASS} labels per class; too few: {scarce}"
        )


def _register(*, run: TrainingRun, encoder: Encoder, result: Any, label_total: int) -> ModelVersion:
    policy = run.policy
    with transaction.atomic():
        Policy.objects.select_for_update().get(pk=policy.pk)
        number = (
            ModelVersion.objects.filter(policy=policy)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
            or 0
        ) + 1
        path = _model_dir() / f"{policy.slug}-v{number}-run{run.pk}.npz"
        sha256 = artifacts.save_artifact(
            artifacts.ModelArtifact(
                head=result.model, encoder=encoder, metadata={"policy": policy.slug}
            ),
            path,
        )
        return ModelVersion.objects.create(
            policy=policy,
            number=number,
            encoder=encoder.name,
            encoder_version=encoder.version,
            params=_jsonable(result.params),
            library_versions=result.library_versions,
            training_fingerprint=result.training_set_sha256,
            label_counts=result.label_counts,
            metrics={**result.metrics, "labels": label_total},
            duration_seconds=result.duration_seconds,
            artifact_path=str(path),
            artifact_sha256=sha256,
        )


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {key: _jsonable_value(value) for key, value in params.items()}


def _jsonable_value(value: Any) -> Any:
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, int | float) for v in value):
        return list(value)
    return repr(value)


def _promote_if_better(*, run: TrainingRun, candidate: ModelVersion) -> bool:
    """Promote unless the champion's held-out macro-F1 beats the candidate's by a tolerance."""
    champion = Champion.objects.filter(policy=run.policy).select_related("model_version").first()
    tolerance = float(settings.REVIEWTOOL_PROMOTION_TOLERANCE)
    if champion is not None:
        current = float(champion.model_version.metrics.get("macro_f1", 0.0))
        if float(candidate.metrics.get("macro_f1", 0.0)) + tolerance < current:
            candidate.status = ModelStatus.REJECTED
            candidate.save(update_fields=["status"])
            return False
    model_promote(model_version=candidate)
    return True


def model_promote(*, model_version: ModelVersion, actor: Any = None) -> ModelVersion:
    """Make ``model_version`` its policy's champion in one transaction, then rescore the pool."""
    # Read from disk, not the in-process cache: a tampered file is refused before anything moves.
    _load(model_version, fresh=True)
    with transaction.atomic():
        champion = (
            Champion.objects.select_for_update().filter(policy=model_version.policy_id).first()
        )
        if champion is not None:
            ModelVersion.objects.filter(pk=champion.model_version_id).update(
                status=ModelStatus.RETIRED
            )
            champion.model_version = model_version
            champion.save(update_fields=["model_version", "updated_at"])
        else:
            Champion.objects.create(policy_id=model_version.policy_id, model_version=model_version)
        model_version.status = ModelStatus.CHAMPION
        model_version.promoted_at = timezone.now()
        model_version.save(update_fields=["status", "promoted_at"])
        labeling_services.audit_record(actor=actor, action="model.promote", obj=model_version)
        policy_id = model_version.policy_id
        transaction.on_commit(lambda: enqueue("activelearning.rescore_policy", policy_id))
    return model_version


def model_rollback(*, model_version: ModelVersion, actor: Any = None) -> ModelVersion:
    """Serve an earlier version again (one action); its artifact must still verify."""
    if model_version.status == ModelStatus.CHAMPION:
        raise Conflict("This version is already the champion.")
    if model_version.status == ModelStatus.REJECTED and actor is None:
        raise Conflict("A rejected version needs a person to promote it.")
    return model_promote(model_version=model_version, actor=actor)


def training_runs_fail_stale(*, older_than: timedelta = timedelta(minutes=15)) -> int:
    """Mark running runs whose worker stopped beating as failed (a killed worker, say)."""
    cutoff = timezone.now() - older_than
    return TrainingRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error="failed: the worker stopped reporting (killed or lost)",
    )


def retrain_if_due(*, policy_id: int, every: int | None = None) -> TrainingRun | None:
    """Request a run when ``every`` labels arrived since the last run of the policy."""
    policy = Policy.objects.filter(pk=policy_id).first()
    if policy is None:
        return None
    threshold = every or int(settings.REVIEWTOOL_RETRAIN_EVERY)
    last = TrainingRun.objects.filter(policy=policy).order_by("-created_at").first()
    new_labels = Label.objects.filter(policy=policy)
    if last is not None:
        new_labels = new_labels.filter(updated_at__gt=last.created_at)
    if new_labels.count() < threshold:
        return None
    return training_run_request(policy=policy, trigger=RunTrigger.LABELS)


# --- serving: champion, rescoring, re-ranking ----------------------------------------------------

_loaded: dict[tuple[int, str], tuple[Encoder, TextClassifierHead]] = {}
_loaded_lock = threading.Lock()


def champion_model(*, policy: Policy) -> tuple[ModelVersion, Encoder, TextClassifierHead] | None:
    """The champion and its loaded artifact (checked against its SHA-256), or None."""
    champion = Champion.objects.filter(policy=policy).select_related("model_version").first()
    if champion is None:
        return None
    version = champion.model_version
    encoder, head = _load(version)
    return version, encoder, head


def _load(version: ModelVersion, *, fresh: bool = False) -> tuple[Encoder, TextClassifierHead]:
    """The version's encoder and head, from its artifact checked against its SHA-256.

    Loaded artifacts are kept per (version, digest) so scoring does not re-read the file; a
    promotion passes ``fresh=True`` so a file changed on disk since is caught there, while the
    champion keeps serving what was verified.
    """
    key = (version.pk, version.artifact_sha256)
    with _loaded_lock:
        if key in _loaded and not fresh:
            return _loaded[key]
    try:
        artifact = artifacts.load_artifact(Path(version.artifact_path), version.artifact_sha256)
    except (artifacts.ArtifactIntegrityError, OSError) as error:
        raise Conflict(
            f"Model v{version.number} refused: artifact checksum mismatch or unreadable "
            f"({type(error).__name__}).",
            {"artifact": version.artifact_path},
        ) from error
    if artifact.encoder is None:
        raise Conflict(f"Model v{version.number} has no encoder in its artifact.")
    with _loaded_lock:
        _loaded[key] = (artifact.encoder, artifact.head)
    return _loaded[key]


def pool_rescore(*, policy_id: int, chunk_size: int = 5000) -> int:
    """Score every open item judged under the policy with its champion; the number scored."""
    policy = Policy.objects.filter(pk=policy_id).first()
    loaded = champion_model(policy=policy) if policy else None
    if policy is None or loaded is None:
        return 0
    version, encoder, head = loaded
    pool = labeling_selectors.unlabeled_items(policy=policy)
    scored = 0
    last_id = 0
    while True:
        chunk = list(pool.filter(id__gt=last_id).values_list("id", "text")[:chunk_size])
        if not chunk:
            break
        last_id = chunk[-1][0]
        proba = head.predict_proba(feature_matrix(encoder=encoder, items=chunk))
        labeling_services.items_set_model_scores(
            policy=policy,
            model_version_id=version.pk,
            scores={
                item_id: {str(c): float(p) for c, p in zip(head.classes_, row, strict=True)}
                for (item_id, _), row in zip(chunk, proba, strict=True)
            },
        )
        scored += len(chunk)
    return scored


def queue_learning_for(queue: Queue) -> QueueLearning:
    learning, _ = QueueLearning.objects.get_or_create(queue=queue)
    return learning


def queue_learning_update(
    *, queue: Queue, strategy: str | None = None, learning_share: float | None = None, actor: Any
) -> QueueLearning:
    learning = queue_learning_for(queue)
    if strategy is not None:
        if strategy not in strategies.STRATEGIES:
            known = sorted(strategies.STRATEGIES)
            raise ValidationFailed("Unknown strategy.", {"fields": {"strategy": f"one of {known}"}})
        learning.strategy = strategy
    if learning_share is not None:
        if not 0.0 <= learning_share <= 1.0:
            raise ValidationFailed("learning_share must be in [0, 1].", {"fields": {}})
        learning.learning_share = learning_share
    learning.save()
    labeling_services.audit_record(
        actor=actor,
        action="queue.learning",
        obj=queue,
        data={"strategy": learning.strategy, "learning_share": learning.learning_share},
    )
    return learning


def queue_rerank(*, queue_id: int, batch_size: int = 100, rng_seed: int | None = None) -> int:
    """Order a queue: the strategy picks ``learning_share`` of the head, priority the rest.

    Enforcement priority is policy severity x the champion's probability of a violating label x
    age (older first among equals). The strategy's batch comes from ``strategies.select`` — the
    same call the simulator makes — over the open items of the queue.
    """
    queue = Queue.objects.filter(pk=queue_id).prefetch_related("policies").first()
    if queue is None:
        return 0
    learning = queue_learning_for(queue)
    open_items = list(
        labeling_selectors.open_items(queue=queue).values_list(
            "id", "text", "received_at", "model_scores"
        )
    )
    if not open_items:
        return 0
    enforcement = _enforcement_order(queue=queue, rows=open_items)
    learned: Sequence[int] = []
    policy = queue.policies.first()
    loaded = champion_model(policy=policy) if policy else None
    if policy is not None and loaded is not None and learning.learning_share > 0:
        learned = _strategy_batch(
            policy=policy,
            strategy=learning.strategy,
            loaded=loaded,
            items=[(row[0], row[1]) for row in open_items],
            k=batch_size,
            rng=np.random.default_rng(rng_seed),
        )
    order = _interleave(learned, enforcement, learning.learning_share)
    total = len(order)
    labeling_services.items_set_priority(
        priorities={item_id: float(total - rank) for rank, item_id in enumerate(order)}
    )
    QueueLearning.objects.filter(pk=learning.pk).update(reranked_at=timezone.now())
    return total


def _strategy_batch(
    *,
    policy: Policy,
    strategy: str,
    loaded: tuple[ModelVersion, Encoder, TextClassifierHead],
    items: list[ItemText],
    k: int,
    rng: np.random.Generator,
) -> list[int]:
    """The next ``k`` items to learn from, chosen by ``strategies.select`` (as the simulator)."""
    _, encoder, head = loaded
    examples = labeling_selectors.labeled_examples(policy=policy)
    labelled_features = feature_matrix(
        encoder=encoder, items=[(item_id, text) for item_id, text, _ in examples]
    )
    labels = np.asarray([value for _, _, value in examples])
    fast_params = {**head.get_params(), "calibration": "none", "tune_thresholds": False}

    def committee() -> Sequence[Any]:
        return bootstrap_committee(
            lambda: TextClassifierHead(**fast_params), labelled_features, labels, rng
        )

    chosen = strategies.select(
        strategy,
        model=head,
        X_pool=feature_matrix(encoder=encoder, items=items),
        k=min(k, len(items)),
        rng=rng,
        committee_factory=committee,
        X_labelled=labelled_features,
    )
    return [items[index][0] for index in chosen]


def _enforcement_order(*, queue: Queue, rows: list[tuple[Any, ...]]) -> list[int]:
    now = timezone.now()
    severity = {policy.slug: policy.severity for policy in queue.policies.all()}
    positives = {policy.slug: set(policy.positive_labels) for policy in queue.policies.all()}

    def risk(row: tuple[Any, ...]) -> float:
        scores: dict[str, Any] = row[3] or {}
        age_hours = max((now - row[2]).total_seconds() / 3600.0, 0.0)
        worst = 0.0
        for slug, weight in severity.items():
            proba: dict[str, float] = (scores.get(slug) or {}).get("proba") or {}
            # Unscored items count as a coin flip, so they are neither buried nor favoured.
            violating = sum(float(proba.get(label, 0.0)) for label in positives[slug])
            worst = max(worst, weight * (violating if proba else 0.5))
        # Age breaks ties and slowly lifts old items: +10% per day waited.
        return float(worst * (1.0 + age_hours / 240.0))

    return [row[0] for row in sorted(rows, key=risk, reverse=True)]


def _interleave(learned: Sequence[int], enforcement: Sequence[int], share: float) -> list[int]:
    """Merge two rankings: of every 10 positions, round(10 x share) come from ``learned``.

    When one ranking runs out the other fills the rest; an id in both appears once, where it
    is first reached.
    """
    per_ten = round(10 * share)
    learned_ids, enforcement_ids = iter(learned), iter(enforcement)
    total = len(set(learned) | set(enforcement))
    merged: list[int] = []
    taken: set[int] = set()
    while len(merged) < total:
        from_learned = len(merged) % 10 < per_ten
        first, second = (
            (learned_ids, enforcement_ids) if from_learned else (enforcement_ids, learned_ids)
        )
        candidate = next((i for i in first if i not in taken), None)
        if candidate is None:
            candidate = next((i for i in second if i not in taken), None)
        if candidate is None:
            break
        taken.add(candidate)
        merged.append(candidate)
    return merged


def pool_rescore_and_rerank(*, policy_id: int) -> int:
    """Rescore the policy's pool, then enqueue a re-rank of each queue that judges it."""
    scored = pool_rescore(policy_id=policy_id)
    for queue_id in Queue.objects.filter(policies=policy_id).values_list("id", flat=True):
        enqueue("activelearning.rerank_queue", queue_id)
    return scored


def retrain_all_due() -> list[TrainingRun]:
    """Request a run (trigger: schedule) for every policy with labels newer than its last run."""
    runs = []
    for policy in Policy.objects.all():
        last = TrainingRun.objects.filter(policy=policy).order_by("-created_at").first()
        labels = Label.objects.filter(policy=policy)
        if last is not None:
            labels = labels.filter(updated_at__gt=last.created_at)
        if labels.exists():
            runs.append(training_run_request(policy=policy, trigger=RunTrigger.SCHEDULE))
    return runs


def embeddings_compute(*, item_ids: Sequence[int]) -> int:
    """Embed new items with the pretrained part of the default encoder (nothing if none)."""
    encoder = model_setup.new_encoder(default_text_encoder_name())
    blocks = getattr(encoder, "encoders", [encoder])
    pretrained = [block for block in blocks if not block.requires_fit]
    items = list(Item.objects.filter(pk__in=list(item_ids)).values_list("id", "text"))
    return sum(embeddings_store(items=items, encoder=block) for block in pretrained)


def policy_by_slug(slug: str) -> Policy:
    policy = Policy.objects.filter(slug=slug).first()
    if policy is None:
        raise NotFound(f"No policy {slug!r}.")
    return policy
