"""REST API of label quality: agreement, reviewer accuracy on golden items, and golden items.

Agreement and accuracy are for leads and admins; golden items are curated by senior reviewers,
leads and admins. Nothing here is visible to reviewers, who are measured by golden items.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import golden, quality, selectors
from labeling.agreement import Agreement
from labeling.api.permissions import IsAdjudicator, RolePermission
from labeling.api.serializers import ErrorSerializer, Related
from labeling.models import DecisionKind, GoldenItem, Item, Policy, QualityAlert, Queue
from labeling.roles import POLICY_OWNER_ROLES


class IsPolicyOwner(RolePermission):
    """Leads and admins only."""

    read_roles = frozenset(POLICY_OWNER_ROLES)
    write_roles = frozenset(POLICY_OWNER_ROLES)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: "Invalid input; extra.fields names each bad field",
        401: "No credentials",
        403: "Your role does not allow this",
        404: "No such object, or not one you may see",
        409: "The current state does not allow this",
    }
    return {
        code: OpenApiResponse(ErrorSerializer, description=descriptions[code]) for code in codes
    }


def _valid(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class AgreementSerializer(serializers.Serializer[Agreement]):
    """One figure; ``value`` is null exactly when ``defined`` is false (``reason`` says why)."""

    value = serializers.FloatField(allow_null=True)
    n_items = serializers.IntegerField()
    n_raters = serializers.IntegerField()
    defined = serializers.BooleanField()
    reason = serializers.CharField()


class PairSerializer(serializers.Serializer[Any]):
    rater_a = serializers.CharField()
    rater_b = serializers.CharField()
    cohen_kappa = AgreementSerializer(source="agreement")


class PolicyAgreementSerializer(serializers.Serializer[Any]):
    policy = serializers.CharField(source="policy.slug")
    queue = serializers.CharField(source="queue.slug", allow_null=True, default=None)
    n_ratings = serializers.IntegerField()
    measures = serializers.DictField(child=AgreementSerializer())
    pairs = PairSerializer(many=True)


class AgreementApi(APIView):
    """Inter-rater agreement per policy over a period, in one queue or across all."""

    permission_classes = [IsPolicyOwner]

    class AgreementFilterSerializer(serializers.Serializer[Any]):
        policy = serializers.SlugField(required=False)
        queue = serializers.SlugField(required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        measure = serializers.ChoiceField(choices=quality.MEASURES, required=False)

    class AgreementOutputSerializer(serializers.Serializer[Any]):
        since = serializers.DateTimeField(allow_null=True)
        until = serializers.DateTimeField(allow_null=True)
        results = PolicyAgreementSerializer(many=True)

    @extend_schema(
        parameters=[AgreementFilterSerializer],
        responses={200: AgreementOutputSerializer, **_errors(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = _valid(self.AgreementFilterSerializer(data=request.query_params))
        queue = None
        policies: QuerySet[Policy] = Policy.objects.order_by("slug")
        if "queue" in filters:
            queue = get_object_or_404(Queue, slug=filters["queue"])
            policies = queue.policies.order_by("slug")
        if "policy" in filters:
            policies = policies.filter(slug=filters["policy"])
            get_object_or_404(policies)
        results = quality.agreement_overview(
            policies=policies,
            queue=queue,
            since=filters.get("since"),
            until=filters.get("until"),
            measures=[filters["measure"]] if "measure" in filters else None,
        )
        body = {"since": filters.get("since"), "until": filters.get("until"), "results": results}
        return Response(self.AgreementOutputSerializer(body).data)


class ReviewerAccuracyApi(APIView):
    """Each reviewer's accuracy on golden items per policy over the period (all time by default),
    and over the last 30 days."""

    permission_classes = [IsPolicyOwner]

    class AccuracyFilterSerializer(serializers.Serializer[Any]):
        policy = serializers.SlugField(required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

    class AccuracyOutputSerializer(serializers.Serializer[Any]):
        reviewer = serializers.CharField()
        policy = serializers.CharField()
        answers = serializers.IntegerField()
        correct = serializers.IntegerField()
        accuracy = serializers.FloatField(source="value", allow_null=True)
        answers_30_days = serializers.IntegerField()
        accuracy_30_days = serializers.FloatField(allow_null=True)
        threshold = serializers.FloatField()
        open_alert = serializers.IntegerField(allow_null=True)

    @extend_schema(
        parameters=[AccuracyFilterSerializer],
        responses={200: AccuracyOutputSerializer(many=True), **_errors(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = _valid(self.AccuracyFilterSerializer(data=request.query_params))
        policy = None
        if "policy" in filters:
            policy = get_object_or_404(Policy, slug=filters["policy"])
        rows = golden.reviewer_accuracy(
            policy=policy, since=filters.get("since"), until=filters.get("until")
        )
        recent = {
            (row.reviewer_id, row.policy): row
            for row in golden.reviewer_accuracy(
                policy=policy, since=timezone.now() - timedelta(days=30)
            )
        }
        thresholds = dict(Policy.objects.values_list("slug", "min_reviewer_accuracy"))
        alerts = {
            (reviewer_id, slug): alert_id
            for alert_id, reviewer_id, slug in QualityAlert.objects.filter(
                acknowledged_at__isnull=True
            ).values_list("id", "reviewer_id", "policy__slug")
        }
        body = [
            {
                "reviewer": row.reviewer,
                "policy": row.policy,
                "answers": row.answers,
                "correct": row.correct,
                "value": row.value,
                "answers_30_days": _recent(recent, row).answers,
                "accuracy_30_days": _recent(recent, row).value,
                "threshold": thresholds.get(row.policy, 0.0),
                "open_alert": alerts.get((row.reviewer_id, row.policy)),
            }
            for row in rows
        ]
        return Response(self.AccuracyOutputSerializer(body, many=True).data)


def _recent(
    recent: dict[tuple[int, str], golden.Accuracy], row: golden.Accuracy
) -> golden.Accuracy:
    empty = golden.Accuracy(
        reviewer_id=row.reviewer_id, reviewer=row.reviewer, policy=row.policy, correct=0, answers=0
    )
    return recent.get((row.reviewer_id, row.policy), empty)


class GoldenOutputSerializer(serializers.ModelSerializer[GoldenItem]):
    queue = serializers.CharField(source="item.queue.slug", read_only=True)
    item_source = serializers.CharField(source="item.source", read_only=True)
    item_external_id = serializers.CharField(source="item.external_id", read_only=True)
    added_by: Related = serializers.SlugRelatedField(slug_field="username", read_only=True)
    answers = serializers.IntegerField(read_only=True)
    expected = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = GoldenItem
        fields = [
            "id",
            "item",
            "item_source",
            "item_external_id",
            "queue",
            "expected",
            "active",
            "answers",
            "added_by",
            "created_at",
        ]
        read_only_fields = fields


def _golden_items() -> QuerySet[GoldenItem]:
    return (
        GoldenItem.objects.select_related("item__queue", "added_by")
        .annotate(
            answers=Count(
                "item__decisions",
                filter=Q(
                    item__decisions__kind=DecisionKind.REVIEW,
                    item__decisions__created_at__gte=F("created_at"),
                ),
            )
        )
        .order_by("-created_at", "-id")
    )


class GoldenListApi(APIView):
    """Golden items (honeypots): list them, or make an existing item golden."""

    permission_classes = [IsAdjudicator]

    class GoldenFilterSerializer(serializers.Serializer[Any]):
        queue = serializers.SlugField(required=False)

    class GoldenCreateInputSerializer(serializers.Serializer[Any]):
        item = serializers.IntegerField()
        expected = serializers.DictField(
            child=serializers.CharField(max_length=100), allow_empty=False
        )

    @extend_schema(
        parameters=[GoldenFilterSerializer],
        responses={200: GoldenOutputSerializer(many=True), **_errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = _valid(self.GoldenFilterSerializer(data=request.query_params))
        items = _golden_items().filter(item__in=selectors.items_for_user(request.user))
        if "queue" in filters:
            items = items.filter(item__queue__slug=filters["queue"])
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(GoldenOutputSerializer(page, many=True).data)

    @extend_schema(
        request=GoldenCreateInputSerializer,
        responses={
            201: GoldenOutputSerializer,
            200: OpenApiResponse(GoldenOutputSerializer, description="Expected answers updated"),
            **_errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.GoldenCreateInputSerializer(data=request.data))
        item: Item = get_object_or_404(selectors.items_for_user(request.user), pk=data["item"])
        existed = GoldenItem.objects.filter(item=item).exists()
        created = golden.golden_add(item=item, expected=data["expected"], actor=request.user)
        body = GoldenOutputSerializer(_golden_items().get(pk=created.pk)).data
        return Response(body, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)
