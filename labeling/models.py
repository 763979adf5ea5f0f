"""The human side's data: what is reviewed, by whom, under which policy, and what was decided.

Decisions and audit events are append-only: rows are inserted, never updated or deleted by the
application. A Label is the resolved value per (item, policy) and carries its provenance.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Roles(models.TextChoices):
    """Roles are Django groups with these names."""

    REVIEWER = "reviewer"
    SENIOR_REVIEWER = "senior_reviewer"
    ML_ENGINEER = "ml_engineer"
    LEAD = "lead"
    ADMIN = "admin"


DEFAULT_LABELS = ["violating", "borderline", "not_violating"]


class Policy(models.Model):
    """A rule content is judged against, with the verdicts a reviewer may give under it."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    guidelines = models.TextField(blank=True, help_text="Markdown, shown next to the item.")
    # Ordered list of verdict values; the order is the keyboard order (1, 2, 3, ...).
    labels = models.JSONField(default=list)
    # Ordered label sets (a severity scale) make ordinal agreement measures meaningful.
    ordinal = models.BooleanField(default=False)
    # The verdict values that count as "violating" for enforcement and binary metrics.
    positive_labels = models.JSONField(default=list, blank=True)
    severity = models.PositiveSmallIntegerField(default=1, help_text="1 (low) to 5 (critical).")
    version = models.PositiveIntegerField(default=1)
    # A reviewer whose accuracy on this policy's golden items falls below this alerts the lead.
    min_reviewer_accuracy = models.FloatField(default=0.8)
    # Graphic policies (gore, abuse) cap how many media items one reviewer sees per day.
    graphic = models.BooleanField(default=False)
    daily_exposure_budget = models.PositiveIntegerField(
        default=0, help_text="Media items per reviewer per day under a graphic policy; 0: no cap."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class QueueOrder(models.TextChoices):
    PRIORITY = "priority", "Highest priority first"
    OLDEST = "oldest", "Oldest first"
    NEWEST = "newest", "Newest first"


class Queue(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    policies = models.ManyToManyField(Policy, related_name="queues")
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="review_queues", blank=True
    )
    overlap = models.PositiveSmallIntegerField(
        default=1, help_text="Independent decisions needed per item."
    )
    lease_seconds = models.PositiveIntegerField(default=300)
    order = models.CharField(max_length=16, choices=QueueOrder.choices, default=QueueOrder.PRIORITY)
    # Blind review hides the model's suggestion from reviewers, against anchoring.
    blind = models.BooleanField(default=False)
    # Share of decisions that must agree for consensus; below it the item goes to adjudication.
    min_agreement = models.FloatField(default=1.0)
    # How decisions become labels: majority vote, or Dawid-Skene over the queue's reviewers.
    aggregation = models.CharField(
        max_length=16,
        choices=[("majority", "Majority vote"), ("dawid_skene", "Dawid-Skene")],
        default="majority",
    )
    # Labels whose aggregated confidence is below this go to adjudication.
    min_confidence = models.FloatField(default=0.0)
    # Share of served items that are golden honeypots (known answers, served blind).
    golden_share = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    IN_REVIEW = "in_review", "Partly reviewed"
    ADJUDICATION = "adjudication", "Needs adjudication"
    ESCALATED = "escalated", "Escalated"
    RESOLVED = "resolved", "Resolved"


class Item(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="items")
    source = models.CharField(max_length=100, default="api")
    external_id = models.CharField(max_length=255)
    text = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField()
    priority = models.FloatField(default=0.0)
    status = models.CharField(
        max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING, db_index=True
    )
    # What the machine side wrote: {policy_slug: {"label": str, "score": float}} and the version.
    model_scores = models.JSONField(default=dict, blank=True)
    model_version_id = models.BigIntegerField(null=True, blank=True)
    # Bumped when a resolved item is sent back for review (suspected label error, new policy
    # version); consensus counts only the decisions of the current round.
    review_round = models.PositiveSmallIntegerField(default=0)
    reopen_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-priority", "received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="item_unique_per_source")
        ]
        indexes = [models.Index(fields=["queue", "status"])]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class LeaseState(models.TextChoices):
    OPEN = "open"
    LEASED = "leased"
    DONE = "done"


class Lease(models.Model):
    """One review slot of an item (an item has ``queue.overlap`` of them).

    A slot is leased to one reviewer at a time until ``expires_at``; an expired lease is simply a
    slot that may be leased again. ``token`` identifies one grant, so a reviewer holding a stale
    grant cannot submit into a slot someone else now holds. Queue and priority are copied from the
    item so that the next-item query is one index scan.
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases")
    slot = models.PositiveSmallIntegerField()
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="leases")
    priority = models.FloatField(default=0.0)
    received_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=LeaseState.choices, default=LeaseState.OPEN)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    token = models.UUIDField(null=True, blank=True, unique=True)
    leased_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="lease_unique_slot"),
        ]
        indexes = [
            models.Index(fields=["queue", "state", "-priority", "received_at"], name="lease_next"),
            models.Index(fields=["item", "reviewer"], name="lease_item_reviewer"),
            models.Index(fields=["reviewer", "state"], name="lease_reviewer_state"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}#{self.slot} ({self.state})"


class DecisionKind(models.TextChoices):
    REVIEW = "review"
    IMPORT = "import"
    ADJUDICATION = "adjudication"


class Decision(models.Model):
    """One reviewer's verdicts on one item. Append-only; an undo is a separate Retraction row."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="decisions")
    lease = models.ForeignKey(
        Lease, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    # Imported decisions have no account; this keeps anonymous coders apart (e.g. "davidson:3").
    anonymous_reviewer = models.CharField(max_length=100, blank=True)
    kind = models.CharField(
        max_length=16, choices=DecisionKind.choices, default=DecisionKind.REVIEW
    )
    verdicts = models.JSONField(help_text="{policy_slug: label}")
    note = models.TextField(blank=True)
    time_on_item_ms = models.PositiveIntegerField(null=True, blank=True)
    review_round = models.PositiveSmallIntegerField(default=0)
    suggestion_shown = models.JSONField(null=True, blank=True)
    # NULL, not "", for "no key": the uniqueness constraint applies only to real keys.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "idempotency_key"],
                name="decision_idempotent_per_reviewer",
                condition=Q(idempotency_key__isnull=False),
            )
        ]
        indexes = [models.Index(fields=["item", "reviewer"], name="decision_item_reviewer")]

    def __str__(self) -> str:
        return f"Decision {self.pk} on {self.item_id}"


class Retraction(models.Model):
    """An undo of a decision, made by its reviewer while the lease still lasted."""

    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, related_name="retraction")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"undo of {self.decision_id}"


class Skip(models.Model):
    """A reviewer passed on an item; they are not offered it again."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["item", "reviewer"], name="skip_item_reviewer")]

    def __str__(self) -> str:
        return f"skip of {self.item_id} by {self.reviewer_id}"


class Escalation(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="escalations")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"escalation of {self.item_id}"


class LabelSource(models.TextChoices):
    CONSENSUS = "consensus"
    ADJUDICATION = "adjudication"
    IMPORT = "import"


class Label(models.Model):
    """The resolved value of one item under one policy, with where it came from."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="labels")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="item_labels")
    policy_version = models.PositiveIntegerField(default=1)
    value = models.CharField(max_length=100)
    source = models.CharField(max_length=16, choices=LabelSource.choices)
    # Share of counted decisions that agree with the value (1.0 for adjudication).
    agreement = models.FloatField(null=True, blank=True)
    # Posterior probability of the value under the queue's aggregation (majority: its share).
    confidence = models.FloatField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "policy"], name="label_unique_item_policy")
        ]
        indexes = [models.Index(fields=["policy", "created_at"], name="label_policy_created")]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.policy_id}={self.value}"


class AuditEvent(models.Model):
    """Append-only record of who did what to which object."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class QueueStats(models.Model):
    """Counts per queue, refreshed by a Celery task after decisions (and on a schedule)."""

    queue = models.OneToOneField(Queue, on_delete=models.CASCADE, related_name="stats")
    pending = models.PositiveIntegerField(default=0)
    in_review = models.PositiveIntegerField(default=0)
    adjudication = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    decisions_last_hour = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"stats of {self.queue_id}"


class PolicyVersion(models.Model):
    """A snapshot of a policy's guidelines and label set, one per version number."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    guidelines = models.TextField(blank=True)
    labels = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policy_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.version}"


class GoldenItem(models.Model):
    """An item whose right answer is known: mixed blind into queues to measure reviewers.

    Golden items never train models and never become consensus labels.
    """

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="golden")
    expected = models.JSONField(help_text="{policy_slug: label}")
    active = models.BooleanField(default=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"golden {self.item_id}"


class QualityAlert(models.Model):
    """A reviewer's honeypot accuracy on a policy fell below the policy's threshold."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quality_alerts"
    )
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="quality_alerts")
    accuracy = models.FloatField()
    threshold = models.FloatField()
    golden_answers = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reviewer_id} on {self.policy_id}: {self.accuracy:.0%}"


class ExportFormat(models.TextChoices):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    HF = "hf", "Hugging Face (Parquet splits)"


class DatasetExport(models.Model):
    """A recorded, reproducible snapshot: the same filters over the same data give the same
    fingerprint."""

    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict)
    fingerprint = models.CharField(max_length=64, db_index=True)
    path = models.CharField(max_length=500)
    datasheet = models.JSONField(default=dict)
    row_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.row_count} rows)"


class MediaKind(models.TextChoices):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


class MediaStatus(models.TextChoices):
    STORED = "stored", "Stored, not processed"
    PROCESSING = "processing"
    READY = "ready", "Text extracted"
    FAILED = "failed"


class MediaAsset(models.Model):
    """One validated media file, stored once per SHA-256 under ``MEDIA_ROOT/sha[:2]/sha``.

    The kind and MIME type come from the file's content, never from its name. Perceptual hashes
    are hex strings: PDQ (256 bits) and pHash (64 bits) for images; for video the PDQ hashes of
    a few keyframes. ``extracted_text`` (OCR, transcript) is filled later by the media workers.
    """

    sha256 = models.CharField(max_length=64, unique=True)
    md5 = models.CharField(max_length=32, db_index=True)
    kind = models.CharField(max_length=8, choices=MediaKind.choices)
    mime = models.CharField(max_length=100)
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    pdq = models.CharField(max_length=64, blank=True, db_index=True)
    pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    keyframe_pdq = models.JSONField(default=list, blank=True)
    phash = models.CharField(max_length=16, blank=True)
    extracted_text = models.TextField(blank=True)
    # Which language model the speech in ``extracted_text`` was transcribed with: the name of a
    # policy's domain model, or empty for the ASR engine's general one (and for images).
    asr_language_model = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=MediaStatus.choices, default=MediaStatus.STORED
    )
    storage_path = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12]}"


class ItemMedia(models.Model):
    """An asset attached to an item, in display order."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="media")
    asset = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="attachments")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="item_media_position_once")
        ]

    def __str__(self) -> str:
        return f"{self.item_id}#{self.position}: {self.asset_id}"


class ReviewerPreference(models.Model):
    """Per-reviewer settings of the review page. Media start hidden unless a reviewer opts in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_preference"
    )
    reveal_media_by_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
