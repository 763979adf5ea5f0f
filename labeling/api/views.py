"""REST API v1 of the human loop.

One API class per resource path, with nested input serializers per operation; views parse input,
call one service or selector and render. Services raise ``ApplicationError`` subclasses that
``reviewtool.exceptions.api_exception_handler`` turns into ``{"message", "extra"}``. Objects a user
may not see are answered like objects that do not exist (404), because lookups go through the
selectors that decide visibility.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import APIException, ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from labeling import selectors, services
from labeling.api.permissions import DataWriterWrites, HasRole, IsAdjudicator, PolicyOwnerWrites
from labeling.api.serializers import (
    AdjudicationItemSerializer,
    DecisionOutputSerializer,
    ErrorSerializer,
    ItemOutputSerializer,
    PolicyOutputSerializer,
    QueueOutputSerializer,
    Related,
    ReviewPayloadSerializer,
)
from labeling.models import (
    Decision,
    DecisionKind,
    Escalation,
    Item,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    Policy,
    Queue,
    QueueOrder,
)

MAX_ITEMS_PER_REQUEST = 1000
BULK_BODY_LIMIT = 32 * 1024 * 1024
ERROR_DESCRIPTIONS = {
    400: "Invalid input; extra.fields names each bad field",
    401: "No credentials",
    403: "Your role does not allow this",
    404: "No such object, or not one you may see",
    413: "The batch is larger than 32 MiB",
    409: "The current state does not allow this (an ended or foreign lease, a taken slug)",
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


def _paginated(
    view: APIView, request: Request, queryset: QuerySet[Any], serializer: type[Any]
) -> Response:
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer(page, many=True, context={"request": request}).data
    return paginator.get_paginated_response(data)


def _payload(request: Request, lease: Lease) -> Response:
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


# --- policies ------------------------------------------------------------------------------------


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

    @extend_schema(responses={200: PolicyOutputSerializer(many=True), **_errors(401, 403)})
    def get(self, request: Request) -> Response:
        policies = selectors.policies_for_user(request.user)
        return _paginated(self, request, policies, PolicyOutputSerializer)

    @extend_schema(
        request=PolicyCreateInputSerializer,
        responses={201: PolicyOutputSerializer, **_errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.PolicyCreateInputSerializer, request)
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

    @extend_schema(responses={200: PolicyOutputSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, slug: str) -> Response:
        policy = get_object_or_404(selectors.policies_for_user(request.user), slug=slug)
        return Response(PolicyOutputSerializer(policy).data)

    @extend_schema(
        request=PolicyUpdateInputSerializer,
        responses={200: PolicyOutputSerializer, **_errors(400, 401, 403, 404)},
    )
    def patch(self, request: Request, slug: str) -> Response:
        policy = get_object_or_404(selectors.policies_for_user(request.user), slug=slug)
        changes = _valid(self.PolicyUpdateInputSerializer, request, partial=True)
        policy = services.policy_update(policy=policy, actor=request.user, **changes)
        return Response(PolicyOutputSerializer(policy).data)


# --- queues --------------------------------------------------------------------------------------


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

    @extend_schema(responses={200: QueueOutputSerializer(many=True), **_errors(401, 403)})
    def get(self, request: Request) -> Response:
        queues = selectors.queues_with_counts(request.user)
        return _paginated(self, request, queues, QueueOutputSerializer)

    @extend_schema(
        request=QueueCreateInputSerializer,
        responses={201: QueueOutputSerializer, **_errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.QueueCreateInputSerializer, request)
        queue = services.queue_create(actor=request.user, **data)
        created = selectors.queues_with_counts(request.user).get(pk=queue.pk)
        return Response(QueueOutputSerializer(created).data, status=status.HTTP_201_CREATED)


class QueueDetailApi(APIView):
    permission_classes = [HasRole]

    @extend_schema(responses={200: QueueOutputSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, slug: str) -> Response:
        queue = get_object_or_404(selectors.queues_with_counts(request.user), slug=slug)
        return Response(QueueOutputSerializer(queue).data)


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
            **_errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        queue = get_object_or_404(selectors.queues_for_user(request.user), slug=slug)
        data = _valid(self.NextInputSerializer, request)
        lease = services.lease_next(
            queue=queue, reviewer=request.user, exclude_tokens=data["exclude"]
        )
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return _payload(request, lease)


# --- items ---------------------------------------------------------------------------------------


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
        responses={200: ItemOutputSerializer(many=True), **_errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = _valid_query(self.ItemFilterSerializer, request)
        items = selectors.items_for_user(request.user, **filters)
        return _paginated(self, request, items, ItemOutputSerializer)

    @extend_schema(
        request=ItemBulkInputSerializer,
        responses={201: ItemBulkOutputSerializer, **_errors(400, 401, 403, 413)},
    )
    def post(self, request: Request) -> Response:
        batch = _valid(self.ItemBulkInputSerializer, request)
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

    @extend_schema(responses={200: ItemOutputSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, item_id: int) -> Response:
        item = get_object_or_404(selectors.items_for_user(request.user), pk=item_id)
        return Response(ItemOutputSerializer(item, context={"request": request}).data)


# --- decisions -----------------------------------------------------------------------------------


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
        responses={200: DecisionListOutputSerializer(many=True), **_errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = _valid_query(self.DecisionFilterSerializer, request)
        decisions = selectors.decisions_for_user(request.user, **filters)
        return _paginated(self, request, decisions, self.DecisionListOutputSerializer)

    @extend_schema(
        request=DecisionCreateInputSerializer,
        responses={
            201: DecisionOutputSerializer,
            200: OpenApiResponse(
                DecisionOutputSerializer, description="A retry: the decision already stored"
            ),
            **_errors(400, 401, 403, 404, 409),
        },
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.DecisionCreateInputSerializer, request)
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
        responses={200: ReviewPayloadSerializer, **_errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, decision_id: int) -> Response:
        mine = selectors.decisions_for_user(request.user, mine=True)
        decision = get_object_or_404(mine, pk=decision_id)
        lease = services.decision_undo(decision=decision, reviewer=request.user)
        return _payload(request, lease)


# --- leases --------------------------------------------------------------------------------------


class LeaseSkipApi(APIView):
    permission_classes = [HasRole]

    @extend_schema(
        request=None,
        responses={204: OpenApiResponse(description="Skipped"), **_errors(401, 403, 404, 409)},
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
        responses={201: EscalationOutputSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, token: uuid.UUID) -> Response:
        data = _valid(self.EscalateInputSerializer, request)
        escalation = services.lease_escalate(token=token, reviewer=request.user, note=data["note"])
        return Response(
            self.EscalationOutputSerializer(escalation).data, status=status.HTTP_201_CREATED
        )


# --- labels and adjudication ---------------------------------------------------------------------


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
        responses={200: LabelOutputSerializer(many=True), **_errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = _valid_query(self.LabelFilterSerializer, request)
        labels = selectors.labels_for_user(request.user, **filters)
        return _paginated(self, request, labels, self.LabelOutputSerializer)


class AdjudicationApi(APIView):
    permission_classes = [IsAdjudicator]
    pagination_class = LimitOffsetPagination

    class AdjudicateInputSerializer(serializers.Serializer[Any]):
        item = VisibleItemField()
        verdicts = VerdictsField()
        note = serializers.CharField(
            allow_blank=True, default="", max_length=10000, trim_whitespace=False
        )

    @extend_schema(responses={200: AdjudicationItemSerializer(many=True), **_errors(401, 403)})
    def get(self, request: Request) -> Response:
        backlog = selectors.adjudication_backlog(request.user)
        return _paginated(self, request, backlog, AdjudicationItemSerializer)

    @extend_schema(
        request=AdjudicateInputSerializer,
        responses={201: DecisionOutputSerializer, **_errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(self.AdjudicateInputSerializer, request)
        decision = services.item_adjudicate(
            item=data["item"], reviewer=request.user, verdicts=data["verdicts"], note=data["note"]
        )
        return Response(DecisionOutputSerializer(decision).data, status=status.HTTP_201_CREATED)


# --- authentication ------------------------------------------------------------------------------


class TokenObtainThrottle(AnonRateThrottle):
    # Slows password guessing; the scope keeps its counter apart from any other anonymous limit.
    scope = "token_obtain"
    rate = "20/minute"


class TokenObtainApi(ObtainAuthToken):
    """Exchange a username and password for an API token (for services and scripts)."""

    throttle_classes = [TokenObtainThrottle]


# --- helpers -------------------------------------------------------------------------------------


def _valid(
    serializer_class: type[serializers.Serializer[Any]], request: Request, *, partial: bool = False
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, partial=partial, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _valid_query(
    serializer_class: type[serializers.Serializer[Any]], request: Request
) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
