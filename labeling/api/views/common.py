"""Pieces every API view uses: error descriptions for the schema, pagination, input validation."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.api.serializers import (
    ErrorSerializer,
    ReviewPayloadSerializer,
)
from labeling.models import (
    Item,
    Lease,
    Queue,
)

ERROR_DESCRIPTIONS = {
    400: "Invalid input; extra.fields names each bad field",
    401: "No credentials",
    403: "Your role does not allow this",
    404: "No such object, or not one you may see",
    413: "The batch is larger than 32 MiB",
    409: "The current state does not allow this (an ended or foreign lease, a taken slug)",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


def paginated(
    view: APIView, request: Request, queryset: QuerySet[Any], serializer: type[Any]
) -> Response:
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer(page, many=True, context={"request": request}).data
    return paginator.get_paginated_response(data)


def review_payload(request: Request, lease: Lease) -> Response:
    return Response(ReviewPayloadSerializer(lease, context={"request": request}).data)


@extend_schema_field(OpenApiTypes.STR)
class VisibleQueueField(serializers.SlugRelatedField[Queue]):
    """A queue slug the requesting user may see."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", **kwargs)

    def get_queryset(self) -> QuerySet[Queue]:
        return selectors.queues_for_user(self.context["request"].user)


@extend_schema_field(OpenApiTypes.INT)
class VisibleItemField(serializers.PrimaryKeyRelatedField[Item]):
    """An item id the requesting user may see."""

    def get_queryset(self) -> QuerySet[Item]:
        return selectors.items_for_user(self.context["request"].user)


class VerdictsField(serializers.DictField):
    """{policy_slug: label}; the service checks slugs and labels against the queue's policies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(max_length=100), allow_empty=False, **kwargs)


def valid_body(
    serializer_class: type[serializers.Serializer[Any]], request: Request, *, partial: bool = False
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, partial=partial, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def valid_query(
    serializer_class: type[serializers.Serializer[Any]], request: Request
) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
