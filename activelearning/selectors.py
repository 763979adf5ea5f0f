"""Reads of the machine loop, for the ML page and the API."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from activelearning.models import Champion, ModelVersion, QueueLearning, RunStatus, TrainingRun
from labeling.models import Policy, Queue


def model_versions(*, policy: Policy | None = None) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.select_related("policy")
    if policy is not None:
        versions = versions.filter(policy=policy)
    return versions.order_by("policy__slug", "-number")


def training_runs(*, policy: Policy | None = None, active: bool = False) -> QuerySet[TrainingRun]:
    runs = TrainingRun.objects.select_related("policy", "model_version", "requested_by")
    if policy is not None:
        runs = runs.filter(policy=policy)
    if active:
        runs = runs.filter(status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
    return runs.order_by("-created_at", "-id")


def champions() -> dict[int, ModelVersion]:
    """``{policy id: champion version}``."""
    return {
        champion.policy_id: champion.model_version
        for champion in Champion.objects.select_related("model_version")
    }


def learning_curve(*, policy: Policy) -> list[dict[str, Any]]:
    """Labels vs held-out macro-F1 across the policy's versions, oldest first."""
    return [
        {
            "version": version.number,
            "labels": int(version.metrics.get("labels", sum(version.label_counts.values()))),
            "macro_f1": float(version.metrics.get("macro_f1", 0.0)),
            "status": version.status,
        }
        for version in ModelVersion.objects.filter(policy=policy).order_by("number")
    ]


def queue_strategies() -> list[tuple[Queue, QueueLearning | None]]:
    learning = {row.queue_id: row for row in QueueLearning.objects.all()}
    return [(queue, learning.get(queue.pk)) for queue in Queue.objects.order_by("slug")]
