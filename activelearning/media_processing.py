"""Media processing: OCR and ASR of stored media assets, on the ``media`` Celery queue.

``media_process(asset_id=...)`` reads one ``labeling.MediaAsset``'s file, extracts its text with
the multimodal encoders (image: OCR; audio: ASR transcript; video: keyframe OCR + soundtrack
transcript) and stores ``extracted_text`` with status ``ready`` (``failed`` when the file cannot
be decoded). It is idempotent: a ready asset is left alone unless ``force``; an asset left in
``processing`` by a killed worker is processed again (tasks are ``acks_late``).
Engines: ``REVIEWTOOL_OCR_ENGINE`` (``""`` = the default, tesseract where installed) and
``REVIEWTOOL_ASR_ENGINE`` (default ``"pocketsphinx"``) settings. Speech is transcribed with the
domain language model of a policy judging the asset's items when there is one
(``asr_language_models``), else with the engine's general model; ``asr_language_model`` on the
asset records which.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from django.db import transaction

from activelearning.asr_language_models import asset_language_model
from activelearning.encoders.audio import AudioEncoder, DomainLanguageModel, get_domain_asr_engine
from activelearning.encoders.image import ImageEncoder
from activelearning.encoders.video import VideoEncoder
from activelearning.model_setup import asr_engine_name, ocr_engine_name
from labeling.media_selectors import media_file
from labeling.models import MediaAsset, MediaKind, MediaStatus

logger = logging.getLogger(__name__)

MAX_EXTRACTED_CHARS = 20_000


def media_text_extract(
    *, kind: str, path: Path, language_model: DomainLanguageModel | None = None
) -> str:
    """The text in the media file at ``path`` of ``kind`` (image, audio or video); speech is
    decoded with ``language_model`` when given."""
    image_encoder = ImageEncoder(ocr_engine=ocr_engine_name(), nsfw=False)
    audio_encoder = AudioEncoder(asr_engine=asr_engine_name(), language_model=language_model)
    if kind == MediaKind.IMAGE:
        return image_encoder.analyse(path).text
    if kind == MediaKind.AUDIO:
        return audio_encoder.analyse(path).text
    if kind == MediaKind.VIDEO:
        encoder = VideoEncoder(image_encoder=image_encoder, audio_encoder=audio_encoder)
        return encoder.analyse(path).text
    raise ValueError(f"unknown media kind {kind!r}")


def media_process(*, asset_id: int, force: bool = False) -> MediaAsset | None:
    """Extract and store the text of one asset; ``None`` when it does not exist.

    Returns the asset as stored (``ready`` or ``failed``), or unchanged when it was already
    ``ready`` and ``force`` is false.
    """
    claimable = [MediaStatus.STORED, MediaStatus.PROCESSING, MediaStatus.FAILED]
    if force:
        claimable.append(MediaStatus.READY)
    with transaction.atomic():
        claimed = MediaAsset.objects.filter(pk=asset_id, status__in=claimable).update(
            status=MediaStatus.PROCESSING
        )
    asset = MediaAsset.objects.filter(pk=asset_id).first()
    if asset is None or not claimed:
        return asset
    language_model = _language_model_for(asset)
    try:
        text = media_text_extract(
            kind=asset.kind, path=media_file(asset), language_model=language_model
        )
    except Exception:
        # Undecodable or hostile content: record the failure, never crash the worker loop.
        logger.exception("media %s: text extraction failed", asset_id)
        asset.status = MediaStatus.FAILED
        asset.save(update_fields=["status"])
        return asset
    asset.extracted_text = text[:MAX_EXTRACTED_CHARS]
    asset.asr_language_model = language_model.name if language_model is not None else ""
    asset.status = MediaStatus.READY
    asset.save(update_fields=["extracted_text", "asr_language_model", "status"])
    return asset


def _language_model_for(asset: MediaAsset) -> DomainLanguageModel | None:
    """The domain model for the asset's speech, loaded once here so that a model the engine
    cannot use falls back to the general one instead of failing the asset."""
    if asset.kind not in (MediaKind.AUDIO, MediaKind.VIDEO):
        return None
    try:
        language_model = asset_language_model(asset=asset)
        if language_model is not None:
            get_domain_asr_engine(asr_engine_name(), language_model)
    except Exception:
        logger.warning(
            "media %s: no domain language model, using the general one", asset.pk, exc_info=True
        )
        return None
    return language_model


def media_process_enqueue(*, asset_ids: list[int]) -> None:
    """Queue ``process_media`` for each asset once the current transaction commits."""
    from activelearning.tasks import process_media

    for asset_id in asset_ids:
        transaction.on_commit(functools.partial(process_media.delay, asset_id))
