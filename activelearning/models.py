"""The machine side's data: embeddings, training runs, the model registry, per-queue strategy."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labeling.models import Item, Policy, Queue


class Embedding(models.Model):
    """One item's vector under one encoder version, stored once (float32 bytes, never pickled)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="embeddings")
    encoder = models.CharField(max_length=64)
    encoder_version = models.CharField(max_length=64)
    dimension = models.PositiveIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "encoder", "encoder_version"], name="embedding_once_per_encoder"
            )
        ]
        indexes = [models.Index(fields=["encoder", "encoder_version", "item"])]

    def __str__(self) -> str:
        return f"{self.item_id} under {self.encoder}"


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REFUSED = "refused"
    FAILED = "failed"


class RunTrigger(models.TextChoices):
    LABELS = "labels", "Every N new labels"
    SCHEDULE = "schedule"
    BUTTON = "button", "ML page"
    API = "api"
    COMMAND = "command", "manage.py retrain"


class TrainingRun(models.Model):
    """One attempt to train a candidate for a policy. State lives here, not in Celery results."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="training_runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    progress = models.FloatField(default=0.0)
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    model_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promoted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Heartbeat while running: a run whose worker died stops beating and is marked failed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["policy", "status"])]

    def __str__(self) -> str:
        return f"Run {self.pk} for {self.policy_id} ({self.status})"


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate"
    CHAMPION = "champion"
    RETIRED = "retired"
    REJECTED = "rejected"


class ModelVersion(models.Model):
    """A trained per-policy head with everything needed to reproduce and trust it."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="model_versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE
    )
    encoder = models.CharField(max_length=64)
    encoder_version = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    library_versions = models.JSONField(default=dict)
    training_fingerprint = models.CharField(max_length=64)
    label_counts = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    duration_seconds = models.FloatField(default=0.0)
    artifact_path = models.CharField(max_length=500)
    artifact_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="model_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.number} ({self.status})"


class Champion(models.Model):
    """The serving model of a policy. One row per policy: promotion is one atomic UPDATE."""

    policy = models.OneToOneField(Policy, on_delete=models.CASCADE, related_name="champion")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"champion of {self.policy_id}: {self.model_version_id}"


class QueueLearning(models.Model):
    """How a queue spends reviewer time: the query strategy and the share it controls."""

    queue = models.OneToOneField(Queue, on_delete=models.CASCADE, related_name="learning")
    strategy = models.CharField(max_length=32, default="margin")
    # Share of the next items chosen by the strategy; the rest follow enforcement priority
    # (policy severity x model score x age).
    learning_share = models.FloatField(default=0.3)
    reranked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.queue_id}: {self.strategy} ({self.learning_share:.0%})"
