"""HTML side of media: the safe serving view and a small upload page for staff.

Media are served only through ``media_serve``: never from ``MEDIA_URL`` by a static helper,
never as HTML or SVG, with the MIME type sniffed at ingest, ``nosniff``, and a sandboxing
Content-Security-Policy of their own, so that a file that slipped through validation still
cannot run script in the application's origin.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.views.decorators.http import require_GET, require_http_methods

from labeling import selectors
from labeling.http_ranges import FileSlice, Unsatisfiable, parse_range
from labeling.media import EXTENSIONS
from labeling.media_selectors import exposure_today, item_media, media_asset_for_user, media_file
from labeling.media_services import MediaUpload, media_attach
from labeling.models import MediaAsset
from labeling.roles import DATA_WRITER_ROLES, can_see_quality, has_any_role
from reviewtool.exceptions import ApplicationError

INLINE_PREFIXES = ("image/", "audio/", "video/")
# Only these types are ever sent as themselves; anything else goes out as a download.
SERVABLE_TYPES = frozenset(EXTENSIONS)
MEDIA_CSP = "default-src 'none'; sandbox"


@require_GET
@login_required
def media_serve(request: HttpRequest, sha256: str) -> HttpResponseBase:
    """The file, a byte range of it (RFC 9110 single ranges, so players can seek), or 304/416.

    Access is checked first: a user who may not see the asset gets the same 404 whatever
    conditional or range headers they send. Every answer carries the same inert headers.
    """
    asset = media_asset_for_user(request.user, sha256.lower())
    if asset is None:
        raise Http404("No such media.")
    path = media_file(asset)
    if not path.is_file():
        raise Http404("No such media.")
    mime = asset.mime if asset.mime in SERVABLE_TYPES else "application/octet-stream"
    # Content-addressed: the SHA-256 names these exact bytes, so it is a strong validator.
    etag = quote_etag(asset.sha256)
    response = get_conditional_response(request, etag=etag) or _media_body(
        request, path, mime=mime, etag=etag
    )
    _make_inert(response, asset=asset, mime=mime, etag=etag)
    return response


def _media_body(request: HttpRequest, path: Path, *, mime: str, etag: str) -> HttpResponseBase:
    size = path.stat().st_size
    wanted = parse_range(request.headers.get("Range"), size)
    if wanted is not None and not _if_range_holds(request, etag):
        wanted = None  # the client's partial copy is of other bytes: send them all
    if wanted is None:
        return FileResponse(path.open("rb"), content_type=mime)
    if isinstance(wanted, Unsatisfiable):
        refusal = HttpResponse(status=416, content_type=mime)
        refusal["Content-Range"] = wanted.content_range(size)
        return refusal
    part = FileSlice(path.open("rb"), offset=wanted.first, length=wanted.length)
    response = FileResponse(part, status=206, content_type=mime)
    response["Content-Length"] = str(wanted.length)
    response["Content-Range"] = wanted.content_range(size)
    return response


def _if_range_holds(request: HttpRequest, etag: str) -> bool:
    """If-Range needs a strong match (RFC 9110 section 13.1.5); a date never matches, as no
    Last-Modified is sent, and neither does a weak tag."""
    validator = request.headers.get("If-Range")
    return validator is None or validator.strip() == etag


def _make_inert(response: HttpResponseBase, *, asset: MediaAsset, mime: str, etag: str) -> None:
    extension = EXTENSIONS.get(mime, "bin")
    disposition = "inline" if mime.startswith(INLINE_PREFIXES) else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{asset.sha256}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag


@require_http_methods(["GET", "POST"])
@login_required
def item_media_page(request: HttpRequest, item_id: int) -> HttpResponse:
    if not has_any_role(request.user, DATA_WRITER_ROLES):
        raise PermissionDenied("Only ML engineers, leads and admins add media.")
    item = get_object_or_404(selectors.items_for_user(request.user), pk=item_id)
    if request.method == "POST":
        uploads = [
            MediaUpload(name=upload.name or "file", stream=upload)
            for upload in request.FILES.getlist("files")
        ]
        try:
            attached = media_attach(item=item, uploads=uploads, actor=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{len(attached)} file(s) attached.")
        return redirect("item-media", item_id=item.pk)
    return render(
        request,
        "labeling/item_media.html",
        {"item": item, "assets": item_media(item), "nav": "queues"},
    )


@require_GET
@login_required
def wellbeing_page(request: HttpRequest) -> HttpResponse:
    """For leads: how many media items each reviewer judged today, per policy, against the
    daily budget of graphic policies."""
    if not can_see_quality(request.user):
        raise PermissionDenied("Only leads and admins see reviewer exposure.")
    return render(
        request, "labeling/wellbeing.html", {"rows": exposure_today(), "nav": "wellbeing"}
    )
