"""all-MiniLM-L6-v2 through ONNX Runtime: exported once, cached on disk, run on the CPU.

The transformer of the installed model package is exported with ``torch.onnx.export`` (torch and
transformers are needed for that step only) and quantised with ONNX Runtime's dynamic
quantisation: int8 weights with a scale per output channel, activations quantised per batch at run
time (so an int8 vector moves a little with its batch-mates). Both files go into a cache directory
keyed by the model package version, the export recipe and the SHA-256 of the model files. Each
file is written under a temporary name and renamed, its SHA-256 recorded in a manifest beside it;
bytes that do not match the manifest are never loaded (they are exported again). Embedding
follows sentence-transformers: the model's own tokenizer, mean pooling over the attention mask,
L2 normalisation.

No Django import here; the caller passes the model directory, thread count and cache directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from activelearning.encoders.base import EncoderUnavailable, FloatMatrix

logger = logging.getLogger(__name__)

ONNX_BACKENDS = ("onnx-int8", "onnx-fp32")
# Part of the cache key and of the encoder version: bump it whenever the export or quantisation
# changes what the files compute, so embeddings of two recipes are never stored as one.
EXPORT_RECIPE_VERSION = 1
ONNX_OPSET = 17
# Files whose bytes decide what the exported graph computes.
_MODEL_FILES = ("config.json", "model.safetensors")
_MANIFEST = "manifest.json"
_IntMatrix = npt.NDArray[np.int64]


def onnx_runtime_available() -> bool:
    """Whether onnxruntime, onnx (needed to export) and tokenizers import; imports none of them."""
    return all(
        importlib.util.find_spec(module) is not None
        for module in ("onnxruntime", "onnx", "tokenizers")
    )


def default_onnx_cache_dir() -> Path:
    """``REVIEWTOOL_ONNX_CACHE``, else ``$REVIEWTOOL_VAR_DIR/cache/onnx``, else the project's
    ``var/cache/onnx``.

    Follows ``REVIEWTOOL_VAR_DIR`` as the Django settings do, so an encoder restored from a model
    artifact (which carries no cache directory) uses the same cache as one the services build.
    """
    configured = os.environ.get("REVIEWTOOL_ONNX_CACHE", "")
    if configured:
        return Path(configured)
    project_root = Path(__file__).resolve().parents[2]
    var_dir = os.environ.get("REVIEWTOOL_VAR_DIR", "") or str(project_root / "var")
    return Path(var_dir) / "cache" / "onnx"


def model_files_sha256(model_dir: Path) -> str:
    """SHA-256 over the model's config and weights (the bytes the export reads)."""
    digest = hashlib.sha256()
    for name in _MODEL_FILES:
        digest.update(name.encode())
        digest.update(_file_sha256(model_dir / name).encode())
    return digest.hexdigest()


def onnx_cache_key(*, model_dir: Path, package_version: str) -> str:
    """Folder name of one export: package version, recipe version, model files digest."""
    return f"minilm-{package_version}-r{EXPORT_RECIPE_VERSION}-{model_files_sha256(model_dir)[:16]}"


def export_onnx_models(model_dir: Path, directory: Path) -> dict[str, Path]:
    """Write fp32 and int8 ONNX files of MiniLM's transformer (inputs: ids, mask, token types;
    output: last hidden state) into ``directory``; ``{backend: path}``.

    Needs torch, transformers, onnx and onnxruntime; nothing is downloaded.
    """
    try:
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
        quantization = importlib.import_module("onnxruntime.quantization")
    except ImportError as error:
        raise EncoderUnavailable(
            "exporting MiniLM to ONNX needs torch, transformers, onnx and onnxruntime "
            f"({error}); set REVIEWTOOL_MINILM_BACKEND=torch or install reviewtool[ml]"
        ) from error
    base = transformers.AutoModel.from_pretrained(str(model_dir)).eval()
    fp32 = directory / "minilm-onnx-fp32.onnx"
    example = torch.ones((2, 16), dtype=torch.long)
    names = ("input_ids", "attention_mask", "token_type_ids")
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns that shape tests in transformers' masking code become constants; the
        # fp32 export still equals torch at every length and padding (test_minilm_onnx.py).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index")
        torch.onnx.export(
            _hidden_states_module(torch, base),
            (example, example, torch.zeros_like(example)),
            str(fp32),
            input_names=list(names),
            output_names=["last_hidden_state"],
            dynamic_axes=dict.fromkeys((*names, "last_hidden_state"), axes),
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    int8 = directory / "minilm-onnx-int8.onnx"
    # One weight scale per output channel rather than per matrix: on Davidson, cosine to torch
    # 0.991 on average (lowest 0.98) instead of 0.958 (0.89), for the same CPU time.
    quantization.quantize_dynamic(
        str(fp32), str(int8), weight_type=quantization.QuantType.QInt8, per_channel=True
    )
    return {"onnx-fp32": fp32, "onnx-int8": int8}


def _hidden_states_module(torch: Any, model: Any) -> Any:
    """``model`` wrapped so that its ONNX graph returns only the last hidden state."""

    class HiddenStates(torch.nn.Module):  # type: ignore[misc]  # torch is imported lazily
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            output = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    return HiddenStates().eval()


def cached_onnx_model(
    backend: str, *, model_dir: Path, package_version: str, cache_dir: Path
) -> bytes:
    """The verified bytes of ``backend``'s ONNX file, exported into ``cache_dir`` if needed.

    The bytes returned are the bytes checked, so a file swapped after the check is never run.
    An export holds a lock on the folder: a second worker waits for it instead of exporting too.
    """
    if backend not in ONNX_BACKENDS:
        raise ValueError(f"unknown ONNX backend {backend!r}; known: {ONNX_BACKENDS}")
    directory = cache_dir / onnx_cache_key(model_dir=model_dir, package_version=package_version)
    content = _read_verified(directory, backend)
    if content is not None:
        return content
    with _export_lock(directory):
        content = _read_verified(directory, backend)  # another worker may just have exported
        if content is None:
            _export_into(directory, model_dir=model_dir, package_version=package_version)
            content = _read_verified(directory, backend)
    if content is None:
        raise EncoderUnavailable(f"the ONNX export in {directory} fails its own checksum")
    return content


def _read_verified(directory: Path, backend: str) -> bytes | None:
    """The file's bytes when their SHA-256 matches the manifest; ``None`` (and a warning when a
    file was there) otherwise."""
    try:
        manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
        entry = manifest["files"][backend]
        name, expected = str(entry["file"]), str(entry["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if Path(name).name != name:  # a manifest naming a file outside the folder is not ours
        return None
    try:
        content = (directory / name).read_bytes()
    except OSError:
        return None
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        logger.warning(
            "ONNX file %s has SHA-256 %s, manifest says %s; refusing to load it, exporting again",
            directory / name,
            actual,
            expected,
        )
        return None
    return content


@contextlib.contextmanager
def _export_lock(directory: Path) -> Iterator[None]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stream = (directory / ".lock").open("a")
    except OSError as error:
        raise EncoderUnavailable(f"cannot write the ONNX cache {directory}: {error}") from error
    with stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


def _export_into(directory: Path, *, model_dir: Path, package_version: str) -> None:
    """Export into a scratch folder, then rename each file into place and the manifest last."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as scratch:
        try:
            exported = export_onnx_models(model_dir, Path(scratch))
        except (ImportError, RuntimeError, ValueError, TypeError, OSError) as error:
            if isinstance(error, EncoderUnavailable):
                raise
            # Whatever torch, transformers or onnx raise means the same: no ONNX backend here.
            raise EncoderUnavailable(f"exporting MiniLM to ONNX failed: {error}") from error
        files = {}
        for backend, path in exported.items():
            files[backend] = {"file": path.name, "sha256": _file_sha256(path)}
            os.replace(path, directory / path.name)
        manifest = {
            "package_version": package_version,
            "recipe_version": EXPORT_RECIPE_VERSION,
            "model_files_sha256": model_files_sha256(model_dir),
            "opset": ONNX_OPSET,
            "export_seconds": round(time.perf_counter() - started, 1),
            "files": files,
        }
        manifest_path = Path(scratch) / _MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(manifest_path, directory / _MANIFEST)
    logger.info("exported MiniLM to ONNX in %s (%.1f s)", directory, manifest["export_seconds"])


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxMiniLM:
    """An ONNX Runtime session of MiniLM's transformer and the model's tokenizer.

    Build it with ``load_onnx_minilm``; ``embed`` turns prepared texts into unit vectors.
    """

    def __init__(self, session: Any, tokenizer: Any) -> None:
        self._session = session
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str], *, batch_size: int) -> FloatMatrix:
        """Unit-norm mean-pooled embeddings, float32 of shape ``(n, 384)``, in input order.

        Texts are tokenised together, then run in batches of similar token counts so that little
        is padding; each batch's rows go back to their input positions.
        """
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(encoding.ids) for encoding in encodings], kind="stable")
        output: FloatMatrix | None = None
        for start in range(0, len(order), max(batch_size, 1)):
            rows = order[start : start + max(batch_size, 1)]
            ids, mask = _padded([encodings[row] for row in rows])
            hidden = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            pooled = mean_pool_normalized(np.asarray(hidden, dtype=np.float32), mask)
            if output is None:
                output = np.empty((len(order), pooled.shape[1]), dtype=np.float32)
            output[rows] = pooled
        return output if output is not None else np.empty((0, 0), dtype=np.float32)


def _padded(encodings: Sequence[Any]) -> tuple[_IntMatrix, _IntMatrix]:
    """Token ids and attention mask, shape ``(batch, longest)``, zero-padded on the right."""
    longest = max(len(encoding.ids) for encoding in encodings)
    ids = np.zeros((len(encodings), longest), dtype=np.int64)
    mask = np.zeros((len(encodings), longest), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return ids, mask


def mean_pool_normalized(hidden: FloatMatrix, mask: _IntMatrix) -> FloatMatrix:
    """Mean of ``hidden`` ``(batch, tokens, d)`` over the tokens ``mask`` ``(batch, tokens)``
    keeps, L2-normalised: ``(batch, d)``. The arithmetic of sentence-transformers' mean Pooling
    and Normalize modules.
    """
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    normalized: FloatMatrix = (pooled / norms).astype(np.float32)
    return normalized


def load_onnx_minilm(
    backend: str,
    *,
    model_dir: Path,
    package_version: str,
    cache_dir: Path,
    max_seq_length: int,
    threads: int,
) -> OnnxMiniLM:
    """An ``OnnxMiniLM`` for ``backend`` (``"onnx-int8"`` or ``"onnx-fp32"``), truncating texts to
    ``max_seq_length`` tokens (special tokens included) and running on ``threads`` CPU threads."""
    try:
        onnxruntime = importlib.import_module("onnxruntime")
        tokenizers = importlib.import_module("tokenizers")
    except ImportError as error:
        raise EncoderUnavailable(
            "the ONNX MiniLM backend needs onnxruntime and tokenizers "
            "(pip install 'reviewtool[ml]')"
        ) from error
    content = cached_onnx_model(
        backend, model_dir=model_dir, package_version=package_version, cache_dir=cache_dir
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Workers share a few cores with other processes; idle threads that spin burn the CPU that
    # the busy ones wait for (measured: about a third slower under load with spinning on).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_seq_length)
    tokenizer.no_padding()
    return OnnxMiniLM(session, tokenizer)
