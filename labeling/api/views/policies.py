"""Policies and queues."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors, services
from labeling.api.permissions import HasRole, PolicyOwnerWrites
from labeling.api.serializers import (
    PolicyOutputSerializer,
    QueueOutputSerializer,
    Related,
)
from labeling.api.views.common import (
    errors,
    paginated,
    valid_body,
)
from labeling.models import (
    Policy,
    QueueOrder,
)


class PolicyListApi(APIView):
    permission_classes = [PolicyOwnerWrites]
    pagination_class = LimitOffsetPagination

    class PolicyCreateInputSerializer(serializers.Serializer[Any]):
        slug = serializers.SlugField(max_length=64)
        name = serializers.CharField(max_length=200)
        labels = serializers.ListField(
            child=serializers.CharField(max_length=100), min_length=1, max_length=9, required=False
        )
        guidelines = serializers.CharField(allow_blank=True, default="", trim_whitespace=False)
        severity = serializers.IntegerField(min_value=1, max_value=5, default=1)
        positive_labels = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False
        )
        ordinal = serializers.BooleanField(default=False)

    @extend_schema(responses={200: PolicyOutputSerializer(many=True), **errors(401, 403)})
    def get(self, request: Request) -> Response:
        policies = selectors.policies_for_user(request.user)
        return paginated(self, request, policies, PolicyOutputSerializer)

    @extend_schema(
        request=PolicyCreateInputSerializer,
        responses={201: PolicyOutputSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = valid_body(self.PolicyCreateInputSerializer, request)
        policy = services.policy_create(actor=request.user, **data)
        return Response(PolicyOutputSerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailApi(APIView):
    permission_classes = [PolicyOwnerWrites]

    class PolicyUpdateInputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=200, required=False)
        labels = serializers.ListField(
            child=serializers.CharField(max_length=100), min_length=1, max_length=9, required=False
        )
        guidelines = serializers.CharField(allow_blank=True, required=False, trim_whitespace=False)
        severity = serializers.IntegerField(min_value=1, max_value=5, required=False)
        positive_labels = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False
        )
        ordinal = serializers.BooleanField(required=False)
        # Graphic policies cap the media items a reviewer sees per day (0: no cap).
        graphic = serializers.BooleanField(required=False)
        daily_exposure_budget = serializers.IntegerField(
            min_value=0, max_value=100_000, required=False
        )

    @extend_schema(responses={200: PolicyOutputSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, slug: str) -> Response:
        policy = get_object_or_404(selectors.policies_for_user(request.user), slug=slug)
        return Response(PolicyOutputSerializer(policy).data)

    @extend_schema(
        request=PolicyUpdateInputSerializer,
        responses={200: PolicyOutputSerializer, **errors(400, 401, 403, 404)},
    )
    def patch(self, request: Request, slug: str) -> Response:
        policy = get_object_or_404(selectors.policies_for_user(request.user), slug=slug)
        changes = valid_body(self.PolicyUpdateInputSerializer, request, partial=True)
        policy = services.policy_update(policy=policy, actor=request.user, **changes)
        return Response(PolicyOutputSerializer(policy).data)


class QueueListApi(APIView):
    permission_classes = [PolicyOwnerWrites]
    pagination_class = LimitOffsetPagination

    class QueueCreateInputSerializer(serializers.Serializer[Any]):
        slug = serializers.SlugField(max_length=64)
        name = serializers.CharField(max_length=200)
        policies: Related = serializers.SlugRelatedField(
            slug_field="slug", queryset=Policy.objects.all(), many=True, allow_empty=False
        )
        overlap = serializers.IntegerField(min_value=1, max_value=10, default=1)
        lease_seconds = serializers.IntegerField(min_value=10, max_value=86400, default=300)
        order = serializers.ChoiceField(choices=QueueOrder.choices, default=QueueOrder.PRIORITY)
        blind = serializers.BooleanField(default=False)
        min_agreement = serializers.FloatField(min_value=0.0, max_value=1.0, default=1.0)
        reviewers: Related = serializers.SlugRelatedField(
            slug_field="username",
            queryset=get_user_model().objects.filter(is_active=True),
            many=True,
            required=False,
        )

    @extend_schema(responses={200: QueueOutputSerializer(many=True), **errors(401, 403)})
    def get(self, request: Request) -> Response:
        queues = selectors.queues_with_counts(request.user)
        return paginated(self, request, queues, QueueOutputSerializer)

    @extend_schema(
        request=QueueCreateInputSerializer,
        responses={201: QueueOutputSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = valid_body(self.QueueCreateInputSerializer, request)
        queue = services.queue_create(actor=request.user, **data)
        created = selectors.queues_with_counts(request.user).get(pk=queue.pk)
        return Response(QueueOutputSerializer(created).data, status=status.HTTP_201_CREATED)


class QueueDetailApi(APIView):
    permission_classes = [HasRole]

    @extend_schema(responses={200: QueueOutputSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, slug: str) -> Response:
        queue = get_object_or_404(selectors.queues_with_counts(request.user), slug=slug)
        return Response(QueueOutputSerializer(queue).data)
