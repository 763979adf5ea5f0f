"""The review loop: next item, decisions, undo, skip, escalate."""

from __future__ import annotations

import uuid
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors, services
from labeling.api.permissions import HasRole
from labeling.api.serializers import (
    DecisionOutputSerializer,
    Related,
    ReviewPayloadSerializer,
)
from labeling.api.views.common import (
    VerdictsField,
    errors,
    paginated,
    review_payload,
    valid_body,
    valid_query,
)
from labeling.models import (
    Decision,
    DecisionKind,
    Escalation,
)


class NextItemApi(APIView):
    """Lease the next item of a queue (or resume the one already held)."""

    permission_classes = [HasRole]

    class NextInputSerializer(serializers.Serializer[Any]):
        exclude = serializers.ListField(child=serializers.UUIDField(), max_length=10, default=list)

    @extend_schema(
        request=NextInputSerializer,
        responses={
            200: ReviewPayloadSerializer,
            204: OpenApiResponse(description="Nothing left to review in this queue"),
            **errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        queue = get_object_or_404(selectors.queues_for_user(request.user), slug=slug)
        data = valid_body(self.NextInputSerializer, request)
        lease = services.lease_next(
            queue=queue, reviewer=request.user, exclude_tokens=data["exclude"]
        )
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return review_payload(request, lease)


class DecisionListApi(APIView):
    permission_classes = [HasRole]
    pagination_class = LimitOffsetPagination

    class DecisionFilterSerializer(serializers.Serializer[Any]):
        mine = serializers.BooleanField(default=False)
        item = serializers.IntegerField(required=False)
        queue = serializers.CharField(required=False)

    class DecisionCreateInputSerializer(serializers.Serializer[Any]):
        lease = serializers.UUIDField()
        verdicts = VerdictsField()
        note = serializers.CharField(
            allow_blank=True, default="", max_length=10000, trim_whitespace=False
        )
        time_on_item_ms = serializers.IntegerField(
            min_value=0, max_value=86_400_000, allow_null=True, default=None
        )
        idempotency_key = serializers.CharField(max_length=100, allow_null=True, default=None)
        suggestion_shown = serializers.DictField(allow_null=True, default=None)

    class DecisionListOutputSerializer(serializers.ModelSerializer[Decision]):
        reviewer: Related = serializers.SlugRelatedField(slug_field="username", read_only=True)
        item_source = serializers.CharField(source="item.source", read_only=True)
        item_external_id = serializers.CharField(source="item.external_id", read_only=True)
        retracted = serializers.BooleanField(read_only=True)
        undoable = serializers.SerializerMethodField()

        class Meta:
            model = Decision
            fields = [
                "id",
                "item",
                "item_source",
                "item_external_id",
                "reviewer",
                "kind",
                "verdicts",
                "note",
                "time_on_item_ms",
                "retracted",
                "undoable",
                "created_at",
            ]
            read_only_fields = fields

        def get_undoable(self, decision: Decision) -> bool:
            """Whether its author may still undo it (their lease on the item still lasts)."""
            lease = decision.lease
            return (
                decision.kind == DecisionKind.REVIEW
                and not getattr(decision, "retracted", False)
                and lease is not None
                and lease.reviewer_id == decision.reviewer_id
                and lease.expires_at is not None
                and lease.expires_at > timezone.now()
            )

    @extend_schema(
        parameters=[DecisionFilterSerializer],
        responses={200: DecisionListOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = valid_query(self.DecisionFilterSerializer, request)
        decisions = selectors.decisions_for_user(request.user, **filters)
        return paginated(self, request, decisions, self.DecisionListOutputSerializer)

    @extend_schema(
        request=DecisionCreateInputSerializer,
        responses={
            201: DecisionOutputSerializer,
            200: OpenApiResponse(
                DecisionOutputSerializer, description="A retry: the decision already stored"
            ),
            **errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request: Request) -> Response:
        data = valid_body(self.DecisionCreateInputSerializer, request)
        key = data["idempotency_key"]
        # A retry finds its decision already stored under the key; only the status differs.
        retry = key is not None and (
            selectors.decision_by_idempotency_key(request.user, key=key) is not None
        )
        decision = services.decision_submit(
            token=data["lease"],
            reviewer=request.user,
            verdicts=data["verdicts"],
            idempotency_key=key,
            note=data["note"],
            time_on_item_ms=data["time_on_item_ms"],
            suggestion_shown=data["suggestion_shown"],
        )
        code = status.HTTP_200_OK if retry else status.HTTP_201_CREATED
        return Response(DecisionOutputSerializer(decision).data, status=code)


class DecisionUndoApi(APIView):
    """Retract one's own decision while its lease lasts; answers like next-item."""

    permission_classes = [HasRole]

    @extend_schema(
        request=None,
        responses={200: ReviewPayloadSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, decision_id: int) -> Response:
        mine = selectors.decisions_for_user(request.user, mine=True)
        decision = get_object_or_404(mine, pk=decision_id)
        lease = services.decision_undo(decision=decision, reviewer=request.user)
        return review_payload(request, lease)


class LeaseSkipApi(APIView):
    permission_classes = [HasRole]

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description="Skipped"), **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, token: uuid.UUID) -> Response:
        services.lease_skip(token=token, reviewer=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaseEscalateApi(APIView):
    permission_classes = [HasRole]

    class EscalateInputSerializer(serializers.Serializer[Any]):
        note = serializers.CharField(
            allow_blank=True, default="", max_length=10000, trim_whitespace=False
        )

    class EscalationOutputSerializer(serializers.ModelSerializer[Escalation]):
        class Meta:
            model = Escalation
            fields = ["id", "item", "note", "created_at"]
            read_only_fields = fields

    @extend_schema(
        request=EscalateInputSerializer,
        responses={201: EscalationOutputSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, token: uuid.UUID) -> Response:
        data = valid_body(self.EscalateInputSerializer, request)
        escalation = services.lease_escalate(token=token, reviewer=request.user, note=data["note"])
        return Response(
            self.EscalationOutputSerializer(escalation).data, status=status.HTTP_201_CREATED
        )
