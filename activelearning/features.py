"""Features of stored items: pretrained embeddings come from the Embedding table, computed once.

Pretrained encoders (MiniLM) give the same vector for the same text forever, so their output is
stored per (item, encoder version) and reused by every training run and rescore. Fitted encoders
(TF-IDF) depend on a model version's vocabulary and are computed from the text each time.

The multimodal encoder needs items, not texts: ``item_analyses`` builds each item's analysis from
its text and attached media files. Where the media workers already stored an asset's extracted
text (status ``ready``), images and audio reuse it and only the cheap visual/acoustic signals are
computed, so training does not redo OCR or ASR; video (keyframe OCR + soundtrack) and media not
yet processed are analysed in full. A file that cannot be decoded is left out of its item (the
item keeps its text and any other media). The item text of the multimodal encoder's pretrained
text part (MiniLM, alone or inside a fusion) is read from the Embedding table under that exact
name and version, and what is missing is computed and stored as the embed task stores it; OCR
text and transcripts are not stored per item and go through the text encoder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from activelearning.encoders import Encoder, FusionEncoder, MultimodalLoopEncoder
from activelearning.encoders.audio import AudioAnalysis, acoustic_statistics, load_audio
from activelearning.encoders.base import FloatMatrix
from activelearning.encoders.image import ImageAnalysis, load_image, visual_signals
from activelearning.encoders.multimodal import ItemAnalysis
from activelearning.encoders.precomputed import (
    EncoderKey,
    PrecomputedEncoder,
    encoder_key,
    pretrained_blocks,
)
from activelearning.encoders.video import VideoAnalysis
from activelearning.models import Embedding
from labeling.media_selectors import ItemMediaFile, media_paths_for_items

logger = logging.getLogger(__name__)

ItemText = tuple[int, str]
FloatVector = npt.NDArray[np.float32]
EMBED_BATCH = 256


def embeddings_store(
    *,
    items: Sequence[ItemText],
    encoder: Encoder,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Compute and store the vectors of ``items`` that lack one under ``encoder``; the count."""
    if encoder.requires_fit:
        raise ValueError(f"{encoder.name} is fitted per model version; its output is not stored")
    have = set(
        Embedding.objects.filter(
            item_id__in=[item_id for item_id, _ in items],
            encoder=encoder.name,
            encoder_version=encoder.version,
        ).values_list("item_id", flat=True)
    )
    missing = [(item_id, text) for item_id, text in items if item_id not in have]
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        vectors = encoder.transform([text for _, text in batch], batch_size=EMBED_BATCH)
        Embedding.objects.bulk_create(
            [
                Embedding(
                    item_id=item_id,
                    encoder=encoder.name,
                    encoder_version=encoder.version,
                    dimension=int(vector.shape[0]),
                    vector=np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
                )
                for (item_id, _), vector in zip(batch, vectors, strict=True)
            ],
            ignore_conflicts=True,
        )
        if progress is not None:
            progress(min(start + EMBED_BATCH, len(missing)), len(missing))
    return len(missing)


def stored_vectors(*, item_ids: Sequence[int], encoder: Encoder) -> dict[int, FloatMatrix]:
    """The stored vectors of ``item_ids`` under ``encoder`` (absent ids are simply missing)."""
    rows = Embedding.objects.filter(
        item_id__in=list(item_ids), encoder=encoder.name, encoder_version=encoder.version
    ).values_list("item_id", "vector")
    return {item_id: np.frombuffer(bytes(blob), dtype=np.float32) for item_id, blob in rows}


def feature_matrix(*, encoder: Encoder, items: Sequence[ItemText]) -> Any:
    """Features of ``items`` (shape ``(n, d)``, dense or CSR) under a fitted ``encoder``.

    Pretrained blocks read the Embedding table (and store what was missing); fitted blocks are
    computed from the text. Fusion keeps TF-IDF sparse, as the text model was measured with.
    The multimodal encoder encodes each item's analysis (text and media, see ``item_analyses``).
    """
    if isinstance(encoder, MultimodalLoopEncoder):
        return encoder.encode_analyses(
            item_analyses(encoder=encoder, items=items),
            known_text_vectors=stored_text_vectors(encoder=encoder.text_encoder, items=items),
        )
    blocks = encoder.encoders if isinstance(encoder, FusionEncoder) else [encoder]
    views: list[Encoder] = []
    for block in blocks:
        if block.requires_fit:
            views.append(block)
            continue
        embeddings_store(items=items, encoder=block)
        by_id = stored_vectors(item_ids=[item_id for item_id, _ in items], encoder=block)
        views.append(PrecomputedEncoder(block, {text: by_id[item_id] for item_id, text in items}))
    texts = [text for _, text in items]
    if isinstance(encoder, FusionEncoder):
        view = FusionEncoder(views, weights=encoder.weights)
        return view.transform_features(texts)
    transform_features = getattr(views[0], "transform_features", None)
    if transform_features is not None:
        return sp.csr_matrix(transform_features(texts), dtype=np.float32)
    return views[0].transform(texts)


def stored_text_vectors(
    *, encoder: Encoder, items: Sequence[ItemText]
) -> dict[EncoderKey, dict[str, FloatVector]]:
    """Item text vectors under each pretrained part of ``encoder``, keyed by the part's
    ``(name, version)`` then by text: read from the Embedding table, the missing ones computed
    and stored first. Empty texts are left out (the multimodal layout has no vector for them).
    """
    with_text = [(item_id, text) for item_id, text in items if text]
    known: dict[EncoderKey, dict[str, FloatVector]] = {}
    for block in pretrained_blocks(encoder):
        embeddings_store(items=with_text, encoder=block)
        by_id = stored_vectors(item_ids=[item_id for item_id, _ in with_text], encoder=block)
        known[encoder_key(block)] = {
            text: by_id[item_id] for item_id, text in with_text if item_id in by_id
        }
    return known


def encoder_fit(*, encoder: Encoder, items: Sequence[ItemText]) -> None:
    """Fit ``encoder`` on ``items`` (the multimodal encoder also on their OCR text/transcripts)."""
    if isinstance(encoder, MultimodalLoopEncoder):
        encoder.fit_analyses(item_analyses(encoder=encoder, items=items))
    else:
        encoder.fit([text for _, text in items])


def item_analyses(
    *, encoder: MultimodalLoopEncoder, items: Sequence[ItemText]
) -> list[ItemAnalysis]:
    """Each item's text and analysed media, in the order of ``items``."""
    media = media_paths_for_items([item_id for item_id, _ in items])
    return [_analysis(encoder, text, media.get(item_id, [])) for item_id, text in items]


def _analysis(
    encoder: MultimodalLoopEncoder, text: str, files: list[ItemMediaFile]
) -> ItemAnalysis:
    multimodal = encoder.multimodal
    images: list[ImageAnalysis] = []
    audio: list[AudioAnalysis] = []
    video: list[VideoAnalysis] = []
    for media in files:
        try:
            if media.kind == "image":
                if media.ready_text is None:
                    images.append(multimodal.image_encoder.analyse(media.path))
                else:
                    nsfw = multimodal.image_encoder.nsfw
                    visual = visual_signals(load_image(media.path), nsfw=nsfw)
                    images.append(ImageAnalysis(text=media.ready_text, visual=visual))
            elif media.kind == "audio":
                if media.ready_text is None:
                    audio.append(multimodal.audio_encoder.analyse(media.path))
                else:
                    acoustic = acoustic_statistics(load_audio(media.path))
                    audio.append(AudioAnalysis(text=media.ready_text, acoustic=acoustic))
            elif media.kind == "video":
                video.append(multimodal.video_encoder.analyse(media.path))
        except Exception:
            # Hostile or missing files must not fail a training run or a rescore.
            logger.warning(
                "media file %s (%s) left out: cannot be analysed", media.path, media.kind
            )
    return ItemAnalysis(text=text, images=images, audio=audio, video=video)
