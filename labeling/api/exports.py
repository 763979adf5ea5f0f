"""REST API of dataset exports: leads and admins create, list and download them.

Exports run synchronously inside the request for now; a large export (hundreds of thousands of
labels) belongs in ``manage.py export_dataset``, which writes the same files and records the same
snapshot. Downloads serve only the files an export lists, from its own folder, as attachments.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import RolePermission
from labeling.api.serializers import ErrorSerializer
from labeling.export import (
    DEFAULT_SPLITS,
    SPLIT_NAMES,
    ExportFilters,
    ExportSpec,
    dataset_export_to_store,
    export_file,
)
from labeling.models import DatasetExport, ExportFormat, LabelSource
from labeling.roles import POLICY_OWNER_ROLES
from reviewtool.exceptions import NotFound, ValidationFailed

CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".parquet": "application/octet-stream",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
}
ERRORS = {
    400: "Invalid input, or no labels match the filters",
    401: "No credentials",
    403: "Only leads and admins export datasets",
    404: "No such export, or no such file in it",
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=ERRORS[code]) for code in codes}


class CanExport(RolePermission):
    """Leads and admins, for reading and writing: exports hold every label and text."""

    read_roles = frozenset(POLICY_OWNER_ROLES)
    write_roles = frozenset(POLICY_OWNER_ROLES)
    message = "Only leads and admins export datasets."


class ExportFileSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    split = serializers.CharField(allow_null=True)
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.URLField()


class ExportOutputSerializer(serializers.ModelSerializer[DatasetExport]):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    files = serializers.SerializerMethodField()
    datasheet_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetExport
        fields = [
            "id",
            "format",
            "filters",
            "fingerprint",
            "row_count",
            "created_by",
            "created_at",
            "datasheet",
            "files",
            "datasheet_url",
        ]

    def _url(self, export: DatasetExport, name: str) -> str:
        request = self.context["request"]
        return str(
            request.build_absolute_uri(reverse("api-export-download", args=[export.pk, name]))
        )

    @extend_schema_field(ExportFileSerializer(many=True))
    def get_files(self, export: DatasetExport) -> list[dict[str, Any]]:
        return [
            {
                **{key: entry.get(key) for key in ("name", "split", "bytes", "sha256")},
                "url": self._url(export, entry["name"]),
            }
            for entry in export.datasheet.get("files", [])
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_datasheet_url(self, export: DatasetExport) -> str:
        return self._url(export, "DATASHEET.md")


class ExportListApi(APIView):
    permission_classes = [CanExport]
    pagination_class = LimitOffsetPagination

    class FiltersInputSerializer(serializers.Serializer[Any]):
        policies = serializers.ListField(
            child=serializers.SlugField(max_length=64), required=False, default=list
        )
        since = serializers.DateField(required=False, allow_null=True, default=None)
        until = serializers.DateField(required=False, allow_null=True, default=None)
        sources = serializers.ListField(
            child=serializers.ChoiceField(choices=LabelSource.choices),
            required=False,
            default=list,
        )
        min_agreement = serializers.FloatField(
            min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None
        )
        golden_only = serializers.BooleanField(default=False)
        queue = serializers.SlugField(max_length=64, required=False, allow_null=True, default=None)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            # A misspelt filter must not silently export everything.
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(dict.fromkeys(unknown, "Unknown filter."))
            return attrs

    class ExportCreateInputSerializer(serializers.Serializer[Any]):
        format = serializers.ChoiceField(choices=ExportFormat.choices)
        filters = serializers.DictField(required=False, default=dict)
        splits = serializers.ListField(
            child=serializers.FloatField(min_value=0.0, max_value=1.0),
            min_length=1,
            max_length=len(SPLIT_NAMES),
            required=False,
            default=lambda: list(DEFAULT_SPLITS),
        )
        seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
        with_decisions = serializers.BooleanField(default=False)

    @extend_schema(responses={200: ExportOutputSerializer(many=True), **_errors(401, 403)})
    def get(self, request: Request) -> Response:
        paginator = LimitOffsetPagination()
        exports = DatasetExport.objects.select_related("created_by").order_by("-created_at", "-id")
        page = paginator.paginate_queryset(exports, request, view=self)
        data = ExportOutputSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        request=inline_serializer(
            name="ExportCreateInput",
            fields={
                "format": serializers.ChoiceField(choices=ExportFormat.choices),
                "filters": FiltersInputSerializer(required=False),
                "splits": serializers.ListField(child=serializers.FloatField(), required=False),
                "seed": serializers.IntegerField(required=False),
                "with_decisions": serializers.BooleanField(required=False),
            },
        ),
        responses={201: ExportOutputSerializer, **_errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        body = self.ExportCreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        filters = self.FiltersInputSerializer(data=body.validated_data["filters"])
        if not filters.is_valid():
            raise ValidationFailed("Invalid filters.", {"fields": {"filters": filters.errors}})
        spec = ExportSpec(
            format=body.validated_data["format"],
            filters=ExportFilters(
                policies=tuple(filters.validated_data["policies"]),
                since=filters.validated_data["since"],
                until=filters.validated_data["until"],
                sources=tuple(filters.validated_data["sources"]),
                min_agreement=filters.validated_data["min_agreement"],
                golden_only=filters.validated_data["golden_only"],
                queue=filters.validated_data["queue"],
            ),
            splits=tuple(body.validated_data["splits"]),
            seed=body.validated_data["seed"],
            with_decisions=body.validated_data["with_decisions"],
        )
        export = dataset_export_to_store(spec=spec, actor=request.user)
        return Response(
            ExportOutputSerializer(export, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ExportDetailApi(APIView):
    permission_classes = [CanExport]

    @extend_schema(responses={200: ExportOutputSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, export_id: int) -> Response:
        export = get_object_or_404(DatasetExport, pk=export_id)
        return Response(ExportOutputSerializer(export, context={"request": request}).data)


class ExportDownloadApi(APIView):
    permission_classes = [CanExport]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **_errors(401, 403, 404),
        }
    )
    def get(self, request: Request, export_id: int, filename: str) -> FileResponse:
        export = get_object_or_404(DatasetExport, pk=export_id)
        path = export_file(export, filename)
        if path is None:
            raise NotFound("This export has no such file.", {"file": filename})
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=path.name,
            content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response
