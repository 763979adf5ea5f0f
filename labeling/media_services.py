"""Writes of media: validate uploads by content, store each file once per SHA-256, attach to items.

Storage is content-addressed: ``MEDIA_ROOT/<sha[:2]>/<sha>``. An upload is first copied into
``MEDIA_ROOT/.incoming`` (never served, size-capped while copying), inspected there, and only
when every file of the request passed is it linked into place (``os.link`` never overwrites, so
two concurrent uploads of the same bytes cannot clobber each other). A refused file leaves
nothing behind: no file, no row.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from labeling import signals
from labeling.media import MAX_AV_BYTES, MediaInfo, MediaRejected, media_inspect
from labeling.media_selectors import media_root
from labeling.models import Item, ItemMedia, MediaAsset, ReviewerPreference
from labeling.services import audit_record
from reviewtool.exceptions import ValidationFailed

MAX_FILES_PER_REQUEST = 20
MAX_MEDIA_PER_ITEM = 50
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class MediaUpload:
    """One file to attach: a name (for messages only, never trusted) and a readable stream or a
    path on disk."""

    name: str
    stream: IO[bytes] | None = None
    path: Path | None = None


@dataclass(frozen=True)
class _Checked:
    upload: MediaUpload
    temp: Path
    info: MediaInfo


def storage_path_of(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256}"


def media_attach(
    *, item: Item, uploads: Sequence[MediaUpload], actor: Any = None
) -> list[ItemMedia]:
    """Validate every upload, then store the new ones and attach all of them to ``item``.

    All or nothing: one refused file refuses the request (``ValidationFailed`` naming the file
    and the reason) and nothing is stored.
    """
    if not uploads:
        raise ValidationFailed("No file was uploaded.", {"fields": {"files": ["Required."]}})
    if len(uploads) > MAX_FILES_PER_REQUEST:
        raise ValidationFailed(f"At most {MAX_FILES_PER_REQUEST} files per request.")
    with media_checked(uploads) as checked:
        placed: list[Path] = []
        try:
            with transaction.atomic():
                locked = Item.objects.select_for_update().get(pk=item.pk)
                start = ItemMedia.objects.filter(item=locked).aggregate(top=Max("position"))["top"]
                position = -1 if start is None else start
                if position + 1 + len(checked) > MAX_MEDIA_PER_ITEM:
                    raise ValidationFailed(f"An item holds at most {MAX_MEDIA_PER_ITEM} media.")
                attached = []
                for entry in checked:
                    asset = _asset_for(entry, placed)
                    position += 1
                    attached.append(
                        ItemMedia.objects.create(item=locked, asset=asset, position=position)
                    )
                audit_record(
                    actor=actor,
                    action="item.media_attach",
                    obj=locked,
                    data={"sha256": [entry.info.sha256 for entry in checked]},
                )
                asset_ids = [link.asset_id for link in attached]
                # The machine side extracts text (OCR, transcripts) on its media workers.
                transaction.on_commit(
                    functools.partial(signals.media_attached.send, Item, asset_ids=asset_ids)
                )
        except BaseException:
            for path in placed:
                _unlink_unreferenced(path)
            raise
    return attached


@contextmanager
def media_checked(uploads: Sequence[MediaUpload]) -> Iterator[list[_Checked]]:
    """Copy each upload to a private temporary file and inspect it; the temporary files are
    removed on leaving. Raises ``ValidationFailed`` for the first refused file."""
    incoming = media_root() / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    checked: list[_Checked] = []
    temps: list[Path] = []
    try:
        for upload in uploads:
            temp = _copy_capped(upload, incoming)
            temps.append(temp)
            try:
                info = media_inspect(temp)
            except MediaRejected as refusal:
                raise media_refused(upload.name, refusal.message) from None
            checked.append(_Checked(upload=upload, temp=temp, info=info))
        yield checked
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def media_refused(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{_display_name(name)}: {message} Nothing was stored.",
        {"file": _display_name(name), "reason": message},
    )


def _display_name(name: str) -> str:
    # The name is only echoed back in messages; keep it short and printable.
    cleaned = "".join(ch for ch in os.path.basename(name or "") if ch.isprintable())
    return cleaned[:120] or "file"


def _copy_capped(upload: MediaUpload, directory: Path) -> Path:
    handle, name = tempfile.mkstemp(dir=directory, prefix="up-")
    temp = Path(name)
    written = 0
    try:
        with os.fdopen(handle, "wb") as out, _open_source(upload) as source:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > MAX_AV_BYTES:
                    raise media_refused(
                        upload.name, f"The file is larger than {MAX_AV_BYTES // 2**20} MB."
                    )
                out.write(chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


@contextmanager
def _open_source(upload: MediaUpload) -> Iterator[IO[bytes]]:
    if upload.path is not None:
        with upload.path.open("rb") as stream:
            yield stream
        return
    if upload.stream is None:
        raise ValidationFailed(f"{_display_name(upload.name)}: no content.")
    with suppress(AttributeError, OSError):
        upload.stream.seek(0)
    yield upload.stream


def _asset_for(entry: _Checked, placed: list[Path]) -> MediaAsset:
    info = entry.info
    existing = MediaAsset.objects.filter(sha256=info.sha256).first()
    final = media_root() / storage_path_of(info.sha256)
    if not final.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(entry.temp, final)
        except FileExistsError:
            pass  # a concurrent upload of the same bytes placed it first
        else:
            os.chmod(final, 0o640)
            placed.append(final)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return MediaAsset.objects.create(
                sha256=info.sha256,
                md5=info.md5,
                kind=info.kind,
                mime=info.mime,
                size_bytes=info.size_bytes,
                width=info.width,
                height=info.height,
                duration_seconds=info.duration_seconds,
                pdq=info.pdq,
                pdq_quality=info.pdq_quality,
                keyframe_pdq=list(info.keyframe_pdq),
                phash=info.phash,
                storage_path=storage_path_of(info.sha256),
            )
    except IntegrityError:
        return MediaAsset.objects.get(sha256=info.sha256)


def _unlink_unreferenced(path: Path) -> None:
    if not MediaAsset.objects.filter(sha256=path.name).exists():
        path.unlink(missing_ok=True)


def reviewer_preference_get(*, user: Any) -> ReviewerPreference:
    preference, _ = ReviewerPreference.objects.get_or_create(user=user)
    return preference


def reviewer_preference_update(*, user: Any, reveal_media_by_default: bool) -> ReviewerPreference:
    preference, _ = ReviewerPreference.objects.update_or_create(
        user=user, defaults={"reveal_media_by_default": reveal_media_by_default}
    )
    return preference
