"""REST API of the machine loop under ``/api/v1/ml/`` (ML engineers, leads and admins)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning import selectors, services
from activelearning.models import ModelVersion, QueueLearning, RunTrigger, TrainingRun
from labeling.models import Policy, Queue
from labeling.roles import sees_all_queues


class IsMlStaff(BasePermission):
    message = "Only ML engineers, leads and admins use the ML API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return sees_all_queues(request.user)


class TrainingRunSerializer(serializers.ModelSerializer[TrainingRun]):
    policy: serializers.SlugRelatedField[Policy] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "policy",
            "status",
            "trigger",
            "progress",
            "log",
            "error",
            "model_version",
            "promoted",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ModelVersionSerializer(serializers.ModelSerializer[ModelVersion]):
    policy: serializers.SlugRelatedField[Policy] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "policy",
            "number",
            "status",
            "encoder",
            "encoder_version",
            "params",
            "library_versions",
            "training_fingerprint",
            "label_counts",
            "metrics",
            "duration_seconds",
            "artifact_sha256",
            "created_at",
            "promoted_at",
        ]


class QueueLearningSerializer(serializers.ModelSerializer[QueueLearning]):
    queue: serializers.SlugRelatedField[Queue] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = QueueLearning
        fields = ["queue", "strategy", "learning_share", "reranked_at"]


class TrainingRunListApi(APIView):
    permission_classes = [IsMlStaff]

    class FilterSerializer(serializers.Serializer[Any]):
        policy = serializers.SlugField(required=False)
        active = serializers.BooleanField(required=False, default=False)

    @extend_schema(parameters=[FilterSerializer], responses=TrainingRunSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        slug = filters.validated_data.get("policy")
        policy = services.policy_by_slug(slug) if slug else None
        runs = selectors.training_runs(policy=policy, active=filters.validated_data["active"])
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(TrainingRunSerializer(page, many=True).data)


class TrainingRunDetailApi(APIView):
    permission_classes = [IsMlStaff]

    @extend_schema(responses=TrainingRunSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = get_object_or_404(selectors.training_runs(), pk=run_id)
        return Response(TrainingRunSerializer(run).data)


class RetrainApi(APIView):
    permission_classes = [IsMlStaff]

    @extend_schema(request=None, responses={202: TrainingRunSerializer})
    def post(self, request: Request, slug: str) -> Response:
        run = services.training_run_request(
            policy=services.policy_by_slug(slug), trigger=RunTrigger.API, requested_by=request.user
        )
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ModelVersionListApi(APIView):
    permission_classes = [IsMlStaff]

    class FilterSerializer(serializers.Serializer[Any]):
        policy = serializers.SlugField(required=False)

    @extend_schema(parameters=[FilterSerializer], responses=ModelVersionSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        slug = filters.validated_data.get("policy")
        versions = selectors.model_versions(policy=services.policy_by_slug(slug) if slug else None)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(versions, request, view=self)
        return paginator.get_paginated_response(ModelVersionSerializer(page, many=True).data)


class ModelVersionPromoteApi(APIView):
    """Serve this version (promotion of a candidate, or rollback to an earlier version)."""

    permission_classes = [IsMlStaff]

    @extend_schema(request=None, responses=ModelVersionSerializer)
    def post(self, request: Request, version_id: int) -> Response:
        version = get_object_or_404(ModelVersion, pk=version_id)
        version = services.model_rollback(model_version=version, actor=request.user)
        return Response(ModelVersionSerializer(version).data)


class QueueLearningApi(APIView):
    permission_classes = [IsMlStaff]

    class UpdateSerializer(serializers.Serializer[Any]):
        strategy = serializers.CharField(required=False)
        learning_share = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)

    @extend_schema(responses=QueueLearningSerializer)
    def get(self, request: Request, slug: str) -> Response:
        queue = get_object_or_404(Queue, slug=slug)
        return Response(QueueLearningSerializer(services.queue_learning_for(queue)).data)

    @extend_schema(
        request=UpdateSerializer,
        responses={
            200: QueueLearningSerializer,
            400: inline_serializer(
                "MlError", {"message": serializers.CharField(), "extra": serializers.DictField()}
            ),
        },
    )
    def patch(self, request: Request, slug: str) -> Response:
        queue = get_object_or_404(Queue, slug=slug)
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        learning = services.queue_learning_update(
            queue=queue, actor=request.user, **data.validated_data
        )
        return Response(QueueLearningSerializer(learning).data)
