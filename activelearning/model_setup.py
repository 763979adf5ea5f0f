"""Which encoder and head a policy's next model gets, from the settings and the policy's items.

Services call these when they train; tests replace ``encoder_for`` to train with a stub.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from activelearning.encoders import (
    Encoder,
    FusionEncoder,
    default_text_encoder_name,
    get_encoder,
    multimodal_encoder,
)
from labeling import media_selectors
from labeling.models import Policy


def text_encoder_name() -> str:
    return str(settings.REVIEWTOOL_TEXT_ENCODER or default_text_encoder_name())


def encoder_name(policy: Policy) -> str:
    """``"multimodal"`` when an item of the policy's queues carries media, else the text encoder.

    ``REVIEWTOOL_MULTIMODAL = False`` keeps media policies on the text encoder alone;
    ``REVIEWTOOL_TEXT_ENCODER`` names the text encoder (inside the multimodal one too).
    """
    text_name = text_encoder_name()
    if text_name == "multimodal":
        return text_name
    if settings.REVIEWTOOL_MULTIMODAL and media_selectors.policy_has_media(policy):
        return "multimodal"
    return text_name


def new_encoder(name: str) -> Encoder:
    """``get_encoder(name)`` with MiniLM's backend and ONNX cache from the settings."""
    return get_encoder(
        name,
        minilm_backend=settings.REVIEWTOOL_MINILM_BACKEND or None,
        onnx_cache_dir=settings.REVIEWTOOL_ONNX_CACHE,
    )


def encoder_for(policy: Policy) -> Encoder:
    """A new, unfitted encoder for the policy's next model (see ``encoder_name``)."""
    name = encoder_name(policy)
    if name != "multimodal":
        return new_encoder(name)
    text_name = text_encoder_name()
    text_encoder = new_encoder(
        default_text_encoder_name() if text_name == "multimodal" else text_name
    )
    return multimodal_encoder(
        text_encoder, ocr_engine=ocr_engine_name(), asr_engine=asr_engine_name()
    )


def ocr_engine_name() -> str | None:
    """``REVIEWTOOL_OCR_ENGINE``; ``None`` (empty setting) lets the image encoder pick."""
    return settings.REVIEWTOOL_OCR_ENGINE or None


def asr_engine_name() -> str:
    """``REVIEWTOOL_ASR_ENGINE``; an empty value means the default engine."""
    return settings.REVIEWTOOL_ASR_ENGINE or "pocketsphinx"


def head_params(encoder: Encoder) -> dict[str, Any]:
    """A fusion of encoders gets a stacked head: one regression per block, weighed on the labels.

    Measured on Davidson (``benchmarks/results/text_model_davidson.json``): stacking MiniLM and
    TF-IDF beats one regression on the concatenated features; see ``TextClassifierHead``.
    """
    if isinstance(encoder, FusionEncoder) and len(encoder.encoders) > 1:
        return {"blocks": encoder.feature_blocks()}
    return {}
