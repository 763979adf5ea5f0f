"""process_media: OCR text stored on the asset, failures recorded, idempotent, media queue."""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil

import pytest
from django.conf import settings as django_settings
from PIL import Image

from activelearning import media_processing, tasks
from activelearning.media_processing import media_process
from benchmarks.multimodal.generate import render_meme
from labeling.models import MediaAsset, MediaKind, MediaStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _asset(media_root, data: bytes, kind: str = MediaKind.IMAGE, mime: str = "image/png"):
    sha = hashlib.sha256(data).hexdigest()
    relative = f"{sha[:2]}/{sha}"
    path = media_root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return MediaAsset.objects.create(
        sha256=sha,
        md5=hashlib.md5(data).hexdigest(),  # noqa: S324 - a content id, as ingestion stores it
        kind=kind,
        mime=mime,
        size_bytes=len(data),
        storage_path=relative,
    )


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_task_stores_the_ocr_text_and_marks_the_asset_ready(media_root):
    if shutil.which("tesseract") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("tesseract missing in CI: .ci/run must install tesseract-ocr")
        pytest.skip("tesseract not installed (apt-get install -y tesseract-ocr)")
    asset = _asset(media_root, _png(render_meme("STRAWBERRY", random.Random(1))))
    tasks.process_media.delay(asset.pk)
    asset.refresh_from_db()
    assert asset.status == MediaStatus.READY
    assert "STRAWBERRY" in asset.extracted_text.upper()


def test_a_ready_asset_is_left_alone_unless_forced(media_root):
    asset = _asset(media_root, _png(Image.new("RGB", (32, 32))))
    MediaAsset.objects.filter(pk=asset.pk).update(status=MediaStatus.READY, extracted_text="kept")
    media_process(asset_id=asset.pk)
    asset.refresh_from_db()
    assert (asset.status, asset.extracted_text) == (MediaStatus.READY, "kept")


def test_an_undecodable_file_marks_the_asset_failed(media_root):
    asset = _asset(media_root, b"not a video at all", kind=MediaKind.VIDEO, mime="video/mp4")
    result = media_process(asset_id=asset.pk)
    assert result is not None and result.status == MediaStatus.FAILED
    assert media_process(asset_id=asset.pk + 1000) is None


def test_process_media_runs_on_the_media_queue():
    assert django_settings.CELERY_TASK_ROUTES["activelearning.process_media"] == {"queue": "media"}


@pytest.mark.django_db(transaction=True)
def test_attaching_media_to_an_item_queues_its_processing(media_root, settings, monkeypatch):
    from labeling import media_services
    from tests.factories import make_items, make_queue

    settings.REVIEWTOOL_PROCESS_MEDIA = True
    processed: list[int] = []
    monkeypatch.setattr(
        media_processing, "media_process", lambda *, asset_id, **_: processed.append(asset_id)
    )
    item = make_items(make_queue(slug="memes"), 1)[0]
    png = _png(Image.new("RGB", (32, 32), "white"))
    upload = media_services.MediaUpload(name="meme.png", stream=io.BytesIO(png))
    attached = media_services.media_attach(item=item, uploads=[upload])
    assert processed == [attached[0].asset_id]
