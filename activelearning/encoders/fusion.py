"""Concatenation of several encoders, each block L2-normalised and weighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from activelearning.encoders.base import Encoder, FloatMatrix, ProgressCallback, encoder_class


def _normalize_rows(matrix: FloatMatrix) -> FloatMatrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalized: FloatMatrix = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalized


class FusionEncoder(Encoder):
    """``[w_1 · e_1(x) / |e_1(x)|, …, w_k · e_k(x) / |e_k(x)|]`` for encoders ``e_i``.

    ``transform`` concatenates the dense outputs (shape ``(n, Σ d_i)``);
    ``transform_features`` uses each block's sparse features where it has them (TF-IDF), which
    is what the full-data text model uses.
    """

    name = "fusion"

    def __init__(self, encoders: Sequence[Encoder], weights: Sequence[float] | None = None) -> None:
        if not encoders:
            raise ValueError("FusionEncoder needs at least one encoder")
        if weights is not None and len(weights) != len(encoders):
            raise ValueError("one weight per encoder")
        self.encoders = list(encoders)
        self.weights = [float(w) for w in (weights or [1.0] * len(encoders))]

    @property
    def requires_fit(self) -> bool:  # type: ignore[override]
        return any(encoder.requires_fit for encoder in self.encoders)

    @property
    def is_fitted(self) -> bool:
        return all(encoder.is_fitted for encoder in self.encoders)

    @property
    def version(self) -> str:
        parts = [
            f"{e.name}:{e.version}*{w:g}" for e, w in zip(self.encoders, self.weights, strict=True)
        ]
        return "+".join(parts)

    @property
    def dimension(self) -> int:
        return sum(encoder.dimension for encoder in self.encoders)

    def fit(self, texts: Sequence[str]) -> Self:
        """Fit every block on ``texts`` (length ``n``)."""
        for encoder in self.encoders:
            encoder.fit(texts)
        return self

    def transform(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 256,
        progress: ProgressCallback | None = None,
    ) -> FloatMatrix:
        """Dense fused vectors, float32 of shape ``(n, dimension)``."""
        blocks = [
            _normalize_rows(encoder.transform(texts, batch_size=batch_size, progress=progress))
            * np.float32(weight)
            for encoder, weight in zip(self.encoders, self.weights, strict=True)
        ]
        return np.hstack(blocks).astype(np.float32)

    def transform_features(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> sp.csr_matrix:
        """Sparse fused features, float32 CSR; blocks with ``transform_features`` stay sparse."""
        blocks: list[Any] = []
        for encoder, weight in zip(self.encoders, self.weights, strict=True):
            sparse_features = getattr(encoder, "transform_features", None)
            if sparse_features is not None:
                block = sp.csr_matrix(sparse_features(texts), dtype=np.float32)
                norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1))).ravel()
                block = sp.diags((weight / np.maximum(norms, 1e-12)).astype(np.float32)) @ block
            else:
                dense = encoder.transform(texts, progress=progress)
                block = sp.csr_matrix(_normalize_rows(dense) * np.float32(weight))
            blocks.append(block)
        return sp.hstack(blocks, format="csr").astype(np.float32)

    def feature_blocks(self) -> tuple[int, ...]:
        """Column widths of ``transform_features``' blocks, in order (the encoder must be fitted).

        A head given these stacks one regression per block (``TextClassifierHead(blocks=…)``).
        """
        return tuple(
            int(getattr(encoder, "sparse_dimension", encoder.dimension))
            if hasattr(encoder, "transform_features")
            else int(encoder.dimension)
            for encoder in self.encoders
        )

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        blocks = []
        arrays: dict[str, npt.NDArray[Any]] = {}
        for index, encoder in enumerate(self.encoders):
            metadata, block_arrays = encoder.to_state()
            blocks.append({"name": encoder.name, "state": metadata})
            for key, value in block_arrays.items():
                arrays[f"block{index}.{key}"] = value
        return {
            "name": self.name,
            "version": self.version,
            "weights": self.weights,
            "blocks": blocks,
        }, arrays

    @classmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        encoders: list[Encoder] = []
        for index, block in enumerate(metadata["blocks"]):
            prefix = f"block{index}."
            block_arrays = {
                key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)
            }
            encoders.append(
                encoder_class(str(block["name"])).from_state(block["state"], block_arrays)
            )
        return cls(encoders, weights=[float(w) for w in metadata["weights"]])
