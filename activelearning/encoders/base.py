"""The encoder interface shared by every text (and later media) encoder.

An encoder turns ``n`` inputs into a dense ``float32`` array of shape ``(n, dimension)``.
Fitted encoders (TF-IDF) learn a vocabulary in ``fit``; pretrained encoders (MiniLM) ignore it.
Every encoder can describe itself as a JSON-serialisable state (``to_state``) so that a model
artifact can be stored and reloaded without pickle.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while encoding."""


class EncoderUnavailable(RuntimeError):
    """The encoder's runtime (torch, sentence-transformers, the model files) is missing."""


class EncoderNotFitted(RuntimeError):
    """``transform`` was called on a fitted encoder before ``fit``."""


_ENCODER_CLASSES: dict[str, type[Encoder]] = {}


def encoder_class(name: str) -> type[Encoder]:
    """The encoder class registered under ``name`` (used to rebuild stored encoders)."""
    try:
        return _ENCODER_CLASSES[name]
    except KeyError:
        raise KeyError(f"unknown encoder {name!r}; known: {sorted(_ENCODER_CLASSES)}") from None


class Encoder(abc.ABC):
    """Maps texts to fixed-length float32 vectors.

    Attributes:
        name: registry name, e.g. ``"minilm"``.
        version: changes whenever the output for the same input can change (model, parameters,
            fitted vocabulary); used as part of embedding cache keys and model metadata.
        dimension: length of each vector; for fitted encoders known only after ``fit``.
        requires_fit: whether ``fit`` learns anything.
    """

    name: str = "encoder"
    requires_fit: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "__abstractmethods__", None) or cls.name != "encoder":
            _ENCODER_CLASSES[cls.name] = cls

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """A string that changes whenever the output for a given input can change."""

    @property
    @abc.abstractmethod
    def dimension(self) -> int:
        """Number of columns ``d`` of ``transform``'s output."""

    @property
    def is_fitted(self) -> bool:
        """Whether ``transform`` can be called."""
        return True

    @abc.abstractmethod
    def fit(self, texts: Sequence[str]) -> Self:
        """Learn whatever the encoder needs from ``texts`` (length ``n``); returns ``self``."""

    @abc.abstractmethod
    def transform(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 256,
        progress: ProgressCallback | None = None,
    ) -> FloatMatrix:
        """Encode ``texts`` (length ``n``) into a float32 array of shape ``(n, dimension)``."""

    def fit_transform(self, texts: Sequence[str]) -> FloatMatrix:
        """``fit(texts).transform(texts)``; shape ``(n, dimension)``."""
        return self.fit(texts).transform(texts)

    @abc.abstractmethod
    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """Return ``(metadata, arrays)``: JSON-serialisable metadata and numeric arrays.

        Together they reconstruct the encoder with ``from_state`` (no pickle involved).
        """

    @classmethod
    @abc.abstractmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        """Rebuild an encoder from the output of ``to_state``."""
