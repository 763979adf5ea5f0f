"""Celery tasks of the human loop. Each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from labeling.golden import reviewer_accuracy_check
from labeling.models import Queue
from labeling.stats import queue_stats_refresh


@shared_task(name="labeling.refresh_queue_stats", ignore_result=True)
def refresh_queue_stats(queue_id: int) -> None:
    """Recount a queue's items by status. Idempotent: it recomputes, never increments."""
    queue_stats_refresh(queue_id=queue_id)


@shared_task(name="labeling.refresh_all_queue_stats", ignore_result=True)
def refresh_all_queue_stats() -> None:
    for queue_id in Queue.objects.values_list("id", flat=True):
        refresh_queue_stats.delay(queue_id)


@shared_task(name="labeling.check_reviewer_accuracy", ignore_result=True)
def check_reviewer_accuracy(reviewer_id: int, policy_id: int) -> None:
    """Open a quality alert if the reviewer's golden accuracy on the policy is too low.

    Idempotent: at most one open alert per reviewer and policy.
    """
    reviewer_accuracy_check(reviewer_id=reviewer_id, policy_id=policy_id)
