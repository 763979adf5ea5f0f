"""Output serializers shared by several endpoints, and the review payload (next item, undo).

Input serializers live next to the API class that reads them (labeling/api/views.py).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labeling.golden import is_golden
from labeling.media_selectors import item_media
from labeling.models import Decision, Escalation, Item, Lease, MediaAsset, Policy, Queue
from labeling.rendering import guidelines_html
from labeling.roles import sees_all_queues

# A related field's type, whether ``many`` or not (DRF picks the class at run time).
Related = serializers.RelatedField[Any, Any, Any] | serializers.ManyRelatedField


class ErrorSerializer(serializers.Serializer[Any]):
    """Every error: what went wrong, and details (``fields`` for invalid input)."""

    message = serializers.CharField()
    extra = serializers.DictField()


class ModelScoreSerializer(serializers.Serializer[Any]):
    # "label" shadows Field.label in the stubs; it is the name the machine side writes.
    label = serializers.CharField()  # type: ignore[assignment]
    score = serializers.FloatField()


# {policy_slug: {"label", "score"}} or null, for the schema.
SCORES_BY_POLICY = serializers.DictField(child=ModelScoreSerializer(), allow_null=True)


class PolicyOutputSerializer(serializers.ModelSerializer[Policy]):
    guidelines_html = serializers.SerializerMethodField()
    labels = serializers.ListField(child=serializers.CharField())
    positive_labels = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Policy
        fields = [
            "id",
            "slug",
            "name",
            "guidelines",
            "guidelines_html",
            "labels",
            "positive_labels",
            "ordinal",
            "severity",
            "version",
            "graphic",
            "daily_exposure_budget",
            "created_at",
            "updated_at",
        ]

    def get_guidelines_html(self, policy: Policy) -> str:
        return guidelines_html(policy.guidelines)


class QueueCountsSerializer(serializers.Serializer[Any]):
    pending = serializers.IntegerField(source="pending_count")
    in_review = serializers.IntegerField(source="in_review_count")
    adjudication = serializers.SerializerMethodField()
    escalated = serializers.IntegerField(source="escalated_count")
    resolved = serializers.IntegerField(source="resolved_count")

    def get_adjudication(self, queue: Any) -> int:
        # The selector's adjudication count includes escalations (both wait for a senior).
        return int(queue.adjudication_count) - int(queue.escalated_count)


class QueueOutputSerializer(serializers.ModelSerializer[Queue]):
    """A queue from ``selectors.queues_with_counts`` (the counts are annotations)."""

    policies: Related = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    counts = QueueCountsSerializer(source="*", read_only=True)

    class Meta:
        model = Queue
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "policies",
            "overlap",
            "lease_seconds",
            "order",
            "blind",
            "min_agreement",
            "counts",
            "created_at",
        ]


class MediaAssetOutputSerializer(serializers.ModelSerializer[MediaAsset]):
    """One media file of an item; ``url`` is the permission-checked serving view."""

    url = serializers.SerializerMethodField()
    keyframe_pdq = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = MediaAsset
        fields = [
            "kind",
            "mime",
            "sha256",
            "size_bytes",
            "width",
            "height",
            "duration_seconds",
            "pdq",
            "pdq_quality",
            "keyframe_pdq",
            "phash",
            "extracted_text",
            "status",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, asset: MediaAsset) -> str:
        return reverse("media-serve", kwargs={"sha256": asset.sha256})


def _media_of(item: Item) -> list[dict[str, Any]]:
    return list(MediaAssetOutputSerializer(item_media(item), many=True).data)


class ItemOutputSerializer(serializers.ModelSerializer[Item]):
    queue: Related = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    model_scores = serializers.SerializerMethodField()
    media = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = [
            "id",
            "queue",
            "source",
            "external_id",
            "text",
            "metadata",
            "language",
            "received_at",
            "priority",
            "status",
            "model_scores",
            "model_version_id",
            "media",
            "created_at",
        ]

    @extend_schema_field(MediaAssetOutputSerializer(many=True))
    def get_media(self, item: Item) -> list[dict[str, Any]]:
        return _media_of(item)

    @extend_schema_field(SCORES_BY_POLICY)
    def get_model_scores(self, item: Item) -> dict[str, Any] | None:
        # Reviewers may review this item blind; only staff see the machine's opinion here.
        request = self.context.get("request")
        if request is None or not sees_all_queues(request.user):
            return None
        return dict(item.model_scores)


class DecisionOutputSerializer(serializers.ModelSerializer[Decision]):
    class Meta:
        model = Decision
        fields = ["id", "item", "verdicts", "note", "created_at", "kind"]
        read_only_fields = fields


class ReviewLeaseSerializer(serializers.ModelSerializer[Lease]):
    class Meta:
        model = Lease
        fields = ["token", "slot", "expires_at"]
        read_only_fields = fields


class ReviewItemSerializer(serializers.ModelSerializer[Item]):
    media = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = [
            "id",
            "external_id",
            "source",
            "text",
            "metadata",
            "language",
            "received_at",
            "status",
            "media",
        ]
        read_only_fields = fields

    @extend_schema_field(MediaAssetOutputSerializer(many=True))
    def get_media(self, item: Item) -> list[dict[str, Any]]:
        return _media_of(item)


class ReviewQueueSerializer(serializers.ModelSerializer[Queue]):
    class Meta:
        model = Queue
        fields = ["slug", "name", "blind"]
        read_only_fields = fields


class ReviewPolicySerializer(serializers.ModelSerializer[Policy]):
    labels = serializers.ListField(child=serializers.CharField(), read_only=True)
    guidelines_html = serializers.SerializerMethodField()

    class Meta:
        model = Policy
        fields = ["slug", "name", "labels", "guidelines_html"]
        read_only_fields = fields

    def get_guidelines_html(self, policy: Policy) -> str:
        return guidelines_html(policy.guidelines)


class ReviewPayloadSerializer(serializers.Serializer[Lease]):
    """What the review page needs to show one leased item: the same for next-item and undo."""

    lease = ReviewLeaseSerializer(source="*", read_only=True)
    item = ReviewItemSerializer(read_only=True)
    queue = ReviewQueueSerializer(read_only=True)
    policies = serializers.SerializerMethodField()
    suggestion = serializers.SerializerMethodField()

    @extend_schema_field(ReviewPolicySerializer(many=True))
    def get_policies(self, lease: Lease) -> list[dict[str, Any]]:
        policies = list(lease.queue.policies.all())
        return list(ReviewPolicySerializer(policies, many=True).data)

    @extend_schema_field(SCORES_BY_POLICY)
    def get_suggestion(self, lease: Lease) -> dict[str, Any] | None:
        """The model's opinion per policy of the queue; none in a blind queue or on a golden
        item (honeypots are always served blind)."""
        if lease.queue.blind or is_golden(lease.item_id):
            return None
        slugs = {policy.slug for policy in lease.queue.policies.all()}
        scores = lease.item.model_scores or {}
        suggestion = {slug: value for slug, value in scores.items() if slug in slugs}
        return suggestion or None


class BacklogDecisionSerializer(serializers.ModelSerializer[Decision]):
    reviewer: Related = serializers.SlugRelatedField(slug_field="username", read_only=True)
    retracted = serializers.BooleanField(read_only=True)

    class Meta:
        model = Decision
        fields = ["id", "reviewer", "kind", "verdicts", "note", "retracted", "created_at"]
        read_only_fields = fields


class BacklogEscalationSerializer(serializers.ModelSerializer[Escalation]):
    reviewer: Related = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Escalation
        fields = ["id", "reviewer", "note", "created_at"]
        read_only_fields = fields


class AdjudicationItemSerializer(ItemOutputSerializer):
    """An item waiting for a senior reviewer, with everything said about it so far.

    Expects ``selectors.adjudication_backlog`` (decisions annotated with ``retracted``).
    """

    policies = serializers.SerializerMethodField()
    decisions = BacklogDecisionSerializer(many=True, read_only=True)
    escalations = BacklogEscalationSerializer(many=True, read_only=True)

    class Meta(ItemOutputSerializer.Meta):
        fields = [*ItemOutputSerializer.Meta.fields, "policies", "decisions", "escalations"]

    def get_policies(self, item: Item) -> list[str]:
        return [policy.slug for policy in item.queue.policies.all()]
