"""Celery tasks of the machine loop. Each takes ids and calls one service.

Training, rescoring and re-ranking are idempotent (a compare-and-swap claim, or a recomputation),
so the global ``acks_late`` + ``task_reject_on_worker_lost`` settings make a killed worker's task
run again safely. Embedding runs on its own queue so it can scale on separate workers.
"""

from __future__ import annotations

from celery import shared_task

from activelearning import label_error_review, media_processing, services

# Training and rescoring are long: their own limits, above the global default.
TRAINING_SOFT_LIMIT = 1800
TRAINING_HARD_LIMIT = 1900


@shared_task(name="activelearning.embed_items", ignore_result=True)
def embed_items(item_ids: list[int]) -> None:
    services.embeddings_compute(item_ids=item_ids)


@shared_task(
    name="activelearning.train_candidate",
    ignore_result=True,
    soft_time_limit=TRAINING_SOFT_LIMIT,
    time_limit=TRAINING_HARD_LIMIT,
)
def train_candidate(run_id: int) -> None:
    """Train, evaluate and (if not worse) promote; promotion enqueues the rescore."""
    services.training_run_execute(run_id=run_id)


@shared_task(
    name="activelearning.rescore_policy",
    ignore_result=True,
    soft_time_limit=TRAINING_SOFT_LIMIT,
    time_limit=TRAINING_HARD_LIMIT,
)
def rescore_policy(policy_id: int) -> None:
    """Score the open pool with the champion; then every queue of the policy is re-ranked."""
    services.pool_rescore_and_rerank(policy_id=policy_id)


@shared_task(name="activelearning.rerank_queue", ignore_result=True)
def rerank_queue(queue_id: int) -> None:
    services.queue_rerank(queue_id=queue_id)


@shared_task(name="activelearning.retrain_if_due", ignore_result=True)
def retrain_if_due(policy_id: int) -> None:
    services.retrain_if_due(policy_id=policy_id)


@shared_task(name="activelearning.retrain_all_due", ignore_result=True)
def retrain_all_due() -> None:
    """The beat schedule's trigger: any policy with at least one new label gets a run."""
    services.retrain_all_due()


@shared_task(name="activelearning.fail_stale_runs", ignore_result=True)
def fail_stale_runs() -> None:
    services.training_runs_fail_stale()


@shared_task(
    name="activelearning.find_label_errors",
    ignore_result=True,
    soft_time_limit=TRAINING_SOFT_LIMIT,
    time_limit=TRAINING_HARD_LIMIT,
)
def find_label_errors(policy_id: int) -> None:
    """Confident learning over the policy's labels; the most likely errors go back to review.

    Re-running reopens nothing twice: an item already back in review is skipped.
    """
    label_error_review.label_errors_review(policy_id=policy_id)


@shared_task(name="activelearning.process_media", ignore_result=True)
def process_media(asset_id: int) -> None:
    """OCR / ASR of one media asset (routed to the ``media`` queue)."""
    media_processing.media_process(asset_id=asset_id)
