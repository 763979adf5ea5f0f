"""Resolved labels, adjudication, and API tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from labeling import selectors, services
from labeling.api.permissions import HasRole, IsAdjudicator
from labeling.api.serializers import (
    AdjudicationItemSerializer,
    DecisionOutputSerializer,
    Related,
)
from labeling.api.views.common import (
    VerdictsField,
    VisibleItemField,
    errors,
    paginated,
    valid_body,
    valid_query,
)
from labeling.models import (
    Label,
    LabelSource,
)


class LabelListApi(APIView):
    permission_classes = [HasRole]
    pagination_class = LimitOffsetPagination

    class LabelFilterSerializer(serializers.Serializer[Any]):
        policy = serializers.CharField(required=False)
        source = serializers.ChoiceField(  # type: ignore[assignment]
            choices=LabelSource.choices, required=False
        )
        queue = serializers.CharField(required=False)
        since = serializers.DateTimeField(required=False)

    class LabelOutputSerializer(serializers.ModelSerializer[Label]):
        policy: Related = serializers.SlugRelatedField(slug_field="slug", read_only=True)
        item_external_id = serializers.CharField(source="item.external_id", read_only=True)
        item_source = serializers.CharField(source="item.source", read_only=True)

        class Meta:
            model = Label
            fields = [
                "id",
                "item",
                "item_external_id",
                "item_source",
                "policy",
                "policy_version",
                "value",
                "source",
                "agreement",
                "created_at",
                "updated_at",
            ]
            read_only_fields = fields

    @extend_schema(
        parameters=[LabelFilterSerializer],
        responses={200: LabelOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = valid_query(self.LabelFilterSerializer, request)
        labels = selectors.labels_for_user(request.user, **filters)
        return paginated(self, request, labels, self.LabelOutputSerializer)


class AdjudicationApi(APIView):
    permission_classes = [IsAdjudicator]
    pagination_class = LimitOffsetPagination

    class AdjudicateInputSerializer(serializers.Serializer[Any]):
        item = VisibleItemField()
        verdicts = VerdictsField()
        note = serializers.CharField(
            allow_blank=True, default="", max_length=10000, trim_whitespace=False
        )

    @extend_schema(responses={200: AdjudicationItemSerializer(many=True), **errors(401, 403)})
    def get(self, request: Request) -> Response:
        backlog = selectors.adjudication_backlog(request.user)
        return paginated(self, request, backlog, AdjudicationItemSerializer)

    @extend_schema(
        request=AdjudicateInputSerializer,
        responses={201: DecisionOutputSerializer, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = valid_body(self.AdjudicateInputSerializer, request)
        decision = services.item_adjudicate(
            item=data["item"], reviewer=request.user, verdicts=data["verdicts"], note=data["note"]
        )
        return Response(DecisionOutputSerializer(decision).data, status=status.HTTP_201_CREATED)


class TokenObtainThrottle(AnonRateThrottle):
    # Slows password guessing; the scope keeps its counter apart from any other anonymous limit.
    scope = "token_obtain"
    rate = "20/minute"


class TokenObtainApi(ObtainAuthToken):
    """Exchange a username and password for an API token (for services and scripts)."""

    throttle_classes = [TokenObtainThrottle]
