"""The multimodal encoder as an ``Encoder``, so the live loop and artifacts can carry it.

``MultimodalLoopEncoder`` (registry name ``"multimodal"``) wraps a ``MultimodalEncoder``. Over
plain texts (``fit``/``transform``) each text is a text-only item: the text block is the text
encoder's vector, every media block is zero and the mask is ``[1, 0, 0, 0]``. Items with media go
through ``fit_analyses``/``encode_analyses`` on ``ItemAnalysis`` objects, which the Django side
builds from stored media (reusing stored OCR/ASR text where it has it, and stored item text
embeddings, see ``activelearning.features``). The state is ``MultimodalEncoder``'s (no pickle).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy.typing as npt

from activelearning.encoders.base import Encoder, FloatMatrix, ProgressCallback
from activelearning.encoders.multimodal import ItemAnalysis, MultimodalEncoder
from activelearning.encoders.precomputed import EncoderKey, TextVectors


class MultimodalLoopEncoder(Encoder):
    """Text + image + audio + video blocks and a modality mask (see ``multimodal.py``).

    Args:
        multimodal: the wrapped encoder (its text encoder is fitted by ``fit``).
    """

    name = "multimodal"

    def __init__(self, multimodal: MultimodalEncoder) -> None:
        self.multimodal = multimodal
        self.requires_fit = multimodal.requires_fit

    @property
    def text_encoder(self) -> Encoder:
        return self.multimodal.text_encoder

    @property
    def version(self) -> str:
        """A short digest of the full version string (which is kept in ``to_state``): model
        rows store versions in 64 characters."""
        digest = hashlib.sha256(self.multimodal.version.encode()).hexdigest()[:24]
        return f"multimodal-{digest}"

    @property
    def dimension(self) -> int:
        return self.multimodal.dimension

    @property
    def is_fitted(self) -> bool:
        return self.multimodal.is_fitted

    def fit_analyses(self, analyses: Sequence[ItemAnalysis]) -> Self:
        """Fit the text encoder on item text, OCR text and transcripts alike."""
        self.multimodal.fit_analyses(analyses)
        return self

    def encode_analyses(
        self,
        analyses: Sequence[ItemAnalysis],
        *,
        known_text_vectors: Mapping[EncoderKey, TextVectors] | None = None,
    ) -> FloatMatrix:
        """Shape ``(n, dimension)``; ``known_text_vectors`` as ``MultimodalEncoder`` takes them
        (the Django side passes stored item text embeddings)."""
        return self.multimodal.encode_analyses(analyses, known_text_vectors=known_text_vectors)

    def fit(self, texts: Sequence[str]) -> Self:
        return self.fit_analyses([ItemAnalysis(text=text) for text in texts])

    def transform(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 256,
        progress: ProgressCallback | None = None,
    ) -> FloatMatrix:
        return self.encode_analyses([ItemAnalysis(text=text) for text in texts])

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        return self.multimodal.to_state()

    @classmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        return cls(MultimodalEncoder.from_state(metadata, arrays))
