"""Media endpoints: multipart upload of an item's media, and the reviewer's media preference.

``POST /api/v1/items/{id}/media/`` takes one or more files in the ``files`` field. Every file is
validated by its content (``labeling.media``); one refused file refuses the request and nothing
is stored. Only ML engineers, leads and admins upload; anyone with a role lists media of items
they may see.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling import selectors
from labeling.api.permissions import DataWriterWrites, HasRole
from labeling.api.serializers import ErrorSerializer, MediaAssetOutputSerializer
from labeling.media_selectors import item_media, reveal_media_by_default
from labeling.media_services import MediaUpload, media_attach, reviewer_preference_update

_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="A file was refused; nothing was stored"),
    401: OpenApiResponse(ErrorSerializer, description="No credentials"),
    403: OpenApiResponse(ErrorSerializer, description="Your role does not allow this"),
    404: OpenApiResponse(ErrorSerializer, description="No such item, or not one you may see"),
}


class ItemMediaApi(APIView):
    permission_classes = [DataWriterWrites]
    parser_classes = [MultiPartParser]

    @extend_schema(responses={200: MediaAssetOutputSerializer(many=True), **_ERRORS})
    def get(self, request: Request, item_id: int) -> Response:
        item = get_object_or_404(selectors.items_for_user(request.user), pk=item_id)
        return Response(MediaAssetOutputSerializer(item_media(item), many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "MediaUploadInput",
                {"files": serializers.ListField(child=serializers.FileField())},
            )
        },
        responses={201: MediaAssetOutputSerializer(many=True), **_ERRORS},
    )
    def post(self, request: Request, item_id: int) -> Response:
        item = get_object_or_404(selectors.items_for_user(request.user), pk=item_id)
        uploads = [
            MediaUpload(name=upload.name or "file", stream=upload)
            for upload in request.FILES.getlist("files")
        ]
        attached = media_attach(item=item, uploads=uploads, actor=request.user)
        return Response(
            MediaAssetOutputSerializer([entry.asset for entry in attached], many=True).data,
            status=status.HTTP_201_CREATED,
        )


class ReviewerPreferenceApi(APIView):
    """The signed-in reviewer's own review-page settings."""

    permission_classes = [HasRole]

    class PreferenceSerializer(serializers.Serializer[Any]):
        reveal_media_by_default = serializers.BooleanField()

    @extend_schema(responses={200: PreferenceSerializer, **_ERRORS})
    def get(self, request: Request) -> Response:
        return Response({"reveal_media_by_default": reveal_media_by_default(request.user)})

    @extend_schema(request=PreferenceSerializer, responses={200: PreferenceSerializer, **_ERRORS})
    def put(self, request: Request) -> Response:
        data = self.PreferenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preference = reviewer_preference_update(
            user=request.user,
            reveal_media_by_default=data.validated_data["reveal_media_by_default"],
        )
        return Response({"reveal_media_by_default": preference.reveal_media_by_default})
