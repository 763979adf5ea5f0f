"""Vectors a caller already has, used in place of a pretrained encoder's work.

A pretrained encoder (MiniLM) gives the same vector for the same text forever, so vectors read
from storage can stand in for ``transform`` exactly. ``with_precomputed`` wraps an encoder (or
the pretrained blocks of a fusion) so that known texts are looked up and only the others are
encoded. Fitted encoders (TF-IDF) are never replaced: their output depends on a fitted
vocabulary, not on the text alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from activelearning.encoders.base import Encoder, FloatMatrix, ProgressCallback
from activelearning.encoders.fusion import FusionEncoder

EncoderKey = tuple[str, str]
"""``(name, version)`` of an encoder: what a stored vector is valid for."""
TextVectors = Mapping[str, npt.NDArray[np.float32]]
"""Text -> its vector, shape ``(dimension,)``."""


def encoder_key(encoder: Encoder) -> EncoderKey:
    return (encoder.name, encoder.version)


def pretrained_blocks(encoder: Encoder) -> list[Encoder]:
    """The parts of ``encoder`` whose output depends on the text alone: the encoder itself, or
    the blocks of a fusion that need no fit."""
    blocks = encoder.encoders if isinstance(encoder, FusionEncoder) else [encoder]
    return [block for block in blocks if not block.requires_fit]


def with_precomputed(encoder: Encoder, known: Mapping[EncoderKey, TextVectors]) -> Encoder:
    """A view of ``encoder`` whose pretrained parts take the vectors of known texts from
    ``known`` (keyed by ``encoder_key`` of the part) and encode only the other texts.

    Its ``transform`` equals ``encoder.transform`` when ``known`` holds that encoder's vectors.
    """
    if isinstance(encoder, FusionEncoder):
        return FusionEncoder(
            [_view(block, known) for block in encoder.encoders], weights=encoder.weights
        )
    return _view(encoder, known)


def _view(block: Encoder, known: Mapping[EncoderKey, TextVectors]) -> Encoder:
    vectors = known.get(encoder_key(block))
    if block.requires_fit or not vectors:
        return block
    return PrecomputedEncoder(block, vectors)


class PrecomputedEncoder(Encoder):
    """``base`` with the vectors of some texts given (shape ``(base.dimension,)`` each).

    ``transform`` encodes each unknown text once with ``base`` and remembers it.
    """

    name = "precomputed"
    requires_fit = False

    def __init__(self, base: Encoder, known: TextVectors) -> None:
        self.base = base
        self.name = base.name
        self.known: dict[str, npt.NDArray[np.float32]] = dict(known)

    @property
    def version(self) -> str:
        return self.base.version

    @property
    def dimension(self) -> int:
        return self.base.dimension

    def fit(self, texts: Sequence[str]) -> Self:
        return self

    def transform(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 256,
        progress: ProgressCallback | None = None,
    ) -> FloatMatrix:
        """Shape ``(n, dimension)``: known vectors as given, the rest from ``base``."""
        missing = sorted({text for text in texts if text not in self.known})
        if missing:
            computed = self.base.transform(missing, batch_size=batch_size, progress=progress)
            self.known.update(zip(missing, computed, strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self.known[text] for text in texts]).astype(np.float32)

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        return self.base.to_state()

    @classmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        raise NotImplementedError("a precomputed view is never serialised")
