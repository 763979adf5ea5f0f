"""On-disk cache of embeddings, keyed by the exact texts and the encoder's name and version.

Files are plain ``.npy`` arrays (loaded with ``allow_pickle=False``) under ``cache_dir``; the
file name is ``<encoder name>-<sha256 of (encoder version, texts)>.npy``, so a changed model,
changed parameters, a re-fitted vocabulary or a changed dataset all miss the cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from activelearning.encoders.base import Encoder, FloatMatrix, ProgressCallback


def texts_sha256(texts: Sequence[str]) -> str:
    """SHA-256 over ``texts`` in order; each text is length-prefixed so boundaries count."""
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


def embedding_cache_path(texts: Sequence[str], encoder: Encoder, cache_dir: Path | str) -> Path:
    """Where the embeddings of ``texts`` by ``encoder`` are (or would be) cached."""
    key = hashlib.sha256(
        f"{encoder.name}\n{encoder.version}\n{texts_sha256(texts)}".encode()
    ).hexdigest()
    return Path(cache_dir) / f"{encoder.name}-{key[:40]}.npy"


def cached_embeddings(
    texts: Sequence[str],
    encoder: Encoder,
    cache_dir: Path | str,
    *,
    batch_size: int = 256,
    progress: ProgressCallback | None = None,
) -> FloatMatrix:
    """Return ``encoder.transform(texts)`` (float32, shape ``(n, encoder.dimension)``), cached.

    A fitted encoder that has not been fitted yet is fitted on ``texts`` first (its version,
    and therefore the cache key, then reflects that vocabulary). The file is written atomically
    (temporary file + rename), so concurrent writers never leave a half-written cache entry.
    """
    if encoder.requires_fit and not encoder.is_fitted:
        encoder.fit(texts)
    path = embedding_cache_path(texts, encoder, cache_dir)
    if path.exists():
        cached = np.load(path, allow_pickle=False)
        if cached.shape == (len(texts), encoder.dimension) and cached.dtype == np.float32:
            return np.asarray(cached)
    vectors = np.ascontiguousarray(
        encoder.transform(texts, batch_size=batch_size, progress=progress), dtype=np.float32
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, vectors, allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return vectors
