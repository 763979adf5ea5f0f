"""Items: bulk ingest (with its own size limit) and reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors, services
from labeling.api.permissions import DataWriterWrites, HasRole
from labeling.api.serializers import (
    ItemOutputSerializer,
)
from labeling.api.views.common import (
    VisibleQueueField,
    errors,
    paginated,
    valid_body,
    valid_query,
)
from labeling.models import (
    ItemStatus,
)

MAX_ITEMS_PER_REQUEST = 1000


BULK_BODY_LIMIT = 32 * 1024 * 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class BulkJSONParser(BaseParser):
    """JSON with its own size limit, for batches of up to 1000 items.

    DRF's JSONParser goes through ``request.body`` and so through Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB): a full batch of ordinary posts is larger than that.
    This parser reads the stream itself, up to ``BULK_BODY_LIMIT`` bytes, for this one endpoint.
    """

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        if stream is None:
            return {}
        raw = stream.read(BULK_BODY_LIMIT + 1)
        if len(raw) > BULK_BODY_LIMIT:
            raise PayloadTooLarge(f"A batch may hold at most {BULK_BODY_LIMIT} bytes.")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ParseError(f"JSON parse error - {error}") from error


class ItemInputSerializer(serializers.Serializer[Any]):
    external_id = serializers.CharField(max_length=255)
    text = serializers.CharField(allow_blank=True, default="", trim_whitespace=False)
    metadata = serializers.DictField(default=dict)
    language = serializers.CharField(max_length=16, allow_blank=True, default="")
    received_at = serializers.DateTimeField(allow_null=True, default=None)
    priority = serializers.FloatField(default=0.0)


class ItemListApi(APIView):
    permission_classes = [DataWriterWrites]
    pagination_class = LimitOffsetPagination
    parser_classes = [BulkJSONParser]

    class ItemFilterSerializer(serializers.Serializer[Any]):
        external_id = serializers.CharField(required=False)
        queue = serializers.CharField(required=False)
        status = serializers.ChoiceField(choices=ItemStatus.choices, required=False)
        source = serializers.CharField(required=False)  # type: ignore[assignment]

    class ItemBulkInputSerializer(serializers.Serializer[Any]):
        queue = VisibleQueueField()
        # "source" shadows Field.source in the stubs; it is the API's name for an item's origin.
        source = serializers.CharField(max_length=100, default="api")  # type: ignore[assignment]
        items: serializers.ListSerializer[Any] = serializers.ListSerializer(
            child=ItemInputSerializer(), allow_empty=False, max_length=MAX_ITEMS_PER_REQUEST
        )

    class ItemBulkOutputSerializer(serializers.Serializer[Any]):
        created = serializers.IntegerField()
        existing = serializers.IntegerField()
        items = inline_serializer(
            name="ItemBulkRow",
            fields={
                "id": serializers.IntegerField(),
                "external_id": serializers.CharField(),
                "created": serializers.BooleanField(),
            },
            many=True,
        )

    @extend_schema(
        parameters=[ItemFilterSerializer],
        responses={200: ItemOutputSerializer(many=True), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = valid_query(self.ItemFilterSerializer, request)
        items = selectors.items_for_user(request.user, **filters)
        return paginated(self, request, items, ItemOutputSerializer)

    @extend_schema(
        request=ItemBulkInputSerializer,
        responses={201: ItemBulkOutputSerializer, **errors(400, 401, 403, 413)},
    )
    def post(self, request: Request) -> Response:
        batch = valid_body(self.ItemBulkInputSerializer, request)
        rows = batch["items"]
        result = services.items_ingest(
            queue=batch["queue"],
            source=batch["source"],
            items=[services.ItemInput(**row) for row in rows],
            actor=request.user,
        )
        by_external_id = {item.external_id: (item, True) for item in result.created}
        by_external_id.update({item.external_id: (item, False) for item in result.existing})
        body = {
            "created": len(result.created),
            "existing": len(result.existing),
            "items": [
                {"id": item.pk, "external_id": item.external_id, "created": created}
                for item, created in (by_external_id[row["external_id"]] for row in rows)
            ],
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ItemDetailApi(APIView):
    permission_classes = [HasRole]

    @extend_schema(responses={200: ItemOutputSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, item_id: int) -> Response:
        item = get_object_or_404(selectors.items_for_user(request.user), pk=item_id)
        return Response(ItemOutputSerializer(item, context={"request": request}).data)
