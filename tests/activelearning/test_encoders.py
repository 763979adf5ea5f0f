from __future__ import annotations

import builtins
import importlib
import sys

import numpy as np
import pytest

from activelearning.embedding_cache import cached_embeddings, embedding_cache_path
from activelearning.encoders import (
    EncoderNotFitted,
    EncoderUnavailable,
    FusionEncoder,
    TfidfEncoder,
    get_encoder,
    minilm_available,
)
from activelearning.encoders.base import Encoder, encoder_class
from activelearning.encoders.minilm import MiniLMEncoder
from activelearning.encoders.text_normalization import normalize_text

TEXTS = [
    f"{subject} {verb} the {thing} number {index}"
    for index, (subject, verb, thing) in enumerate(
        (s, v, t)
        for s in ("cats", "dogs", "people", "robots")
        for v in ("like", "hate", "see")
        for t in ("garden", "market", "river")
    )
]


def small_tfidf() -> TfidfEncoder:
    return TfidfEncoder(n_components=8)


def test_tfidf_returns_float32_rows_of_the_declared_dimension():
    encoder = small_tfidf().fit(TEXTS)
    vectors = encoder.transform(TEXTS[:5])
    assert vectors.dtype == np.float32
    assert vectors.shape == (5, encoder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_tfidf_sparse_features_have_one_column_per_vocabulary_entry():
    encoder = TfidfEncoder(n_components=0).fit(TEXTS)
    features = encoder.transform_features(TEXTS)
    assert features.shape == (len(TEXTS), encoder.dimension)
    assert features.dtype == np.float32


def test_tfidf_refuses_to_transform_before_fit():
    with pytest.raises(EncoderNotFitted):
        small_tfidf().transform(["hello"])


def test_tfidf_version_changes_with_the_fitted_vocabulary():
    first = small_tfidf().fit(TEXTS).version
    again = small_tfidf().fit(TEXTS).version
    other = small_tfidf().fit([*TEXTS, "zebras eat the river", "zebras eat more"]).version
    assert first == again
    assert first != other


def test_tfidf_state_round_trip_gives_identical_vectors():
    encoder = small_tfidf().fit(TEXTS)
    metadata, arrays = encoder.to_state()
    restored = encoder_class(metadata["name"]).from_state(metadata, arrays)
    assert restored.version == encoder.version
    np.testing.assert_array_equal(restored.transform(TEXTS), encoder.transform(TEXTS))


def test_normalization_replaces_urls_mentions_and_entities():
    assert normalize_text("@bob see http://x.co/a &amp;  more") == "@USER see URL & more"


def test_get_encoder_tfidf_works_without_torch(monkeypatch):
    real_import = builtins.__import__

    def import_without_torch(name, *args, **kwargs):
        if name.split(".")[0] in {"torch", "sentence_transformers"}:
            raise ImportError(f"No module named {name!r} (simulated)")
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m.split(".")[0] in {"torch", "sentence_transformers"}]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", import_without_torch)
    monkeypatch.setattr(importlib, "import_module", import_without_torch)

    encoder = get_encoder("tfidf")
    assert encoder.fit(TEXTS).transform(TEXTS).shape[0] == len(TEXTS)
    with pytest.raises(EncoderUnavailable):
        MiniLMEncoder().load()


def test_get_encoder_rejects_unknown_names():
    with pytest.raises(KeyError):
        get_encoder("word2vec")


class ConstantEncoder(Encoder):
    name = "constant-test"

    def __init__(self, value: float = 3.0, width: int = 2) -> None:
        self.value = value
        self.width = width

    @property
    def version(self) -> str:
        return f"constant-{self.value}"

    @property
    def dimension(self) -> int:
        return self.width

    def fit(self, texts):
        return self

    def transform(self, texts, *, batch_size=256, progress=None):
        return np.full((len(texts), self.width), self.value, dtype=np.float32)

    def to_state(self):
        return {"value": self.value, "width": self.width}, {}

    @classmethod
    def from_state(cls, metadata, arrays):
        return cls(metadata["value"], metadata["width"])


def test_fusion_normalizes_and_weights_each_block():
    fusion = FusionEncoder([ConstantEncoder(3.0, 4), small_tfidf()], weights=[2.0, 1.0]).fit(TEXTS)
    vectors = fusion.transform(TEXTS[:3])
    assert vectors.shape == (3, 4 + fusion.encoders[1].dimension)
    assert np.allclose(np.linalg.norm(vectors[:, :4], axis=1), 2.0)
    assert np.allclose(np.linalg.norm(vectors[:, 4:], axis=1), 1.0, atol=1e-5)
    sparse = fusion.transform_features(TEXTS[:3])
    assert sparse.shape[0] == 3
    assert np.allclose(np.sqrt(np.asarray(sparse.multiply(sparse).sum(axis=1))).ravel(), np.sqrt(5))


def test_fusion_state_round_trip():
    fusion = FusionEncoder([ConstantEncoder(), small_tfidf()]).fit(TEXTS)
    metadata, arrays = fusion.to_state()
    restored = FusionEncoder.from_state(metadata, arrays)
    assert restored.version == fusion.version
    np.testing.assert_allclose(restored.transform(TEXTS), fusion.transform(TEXTS))


def test_cached_embeddings_computes_once_and_keys_on_the_texts(tmp_path):
    calls = []

    class CountingEncoder(ConstantEncoder):
        name = "counting-test"

        def transform(self, texts, *, batch_size=256, progress=None):
            calls.append(len(texts))
            return super().transform(texts)

    encoder = CountingEncoder()
    first = cached_embeddings(["a", "b"], encoder, tmp_path)
    second = cached_embeddings(["a", "b"], encoder, tmp_path)
    cached_embeddings(["a", "c"], encoder, tmp_path)
    assert calls == [2, 2]
    np.testing.assert_array_equal(first, second)
    assert embedding_cache_path(["a", "b"], encoder, tmp_path).exists()
    assert embedding_cache_path(["a", "b"], CountingEncoder(value=4.0), tmp_path) != (
        embedding_cache_path(["a", "b"], encoder, tmp_path)
    )


def test_cached_embeddings_fits_an_unfitted_encoder_first(tmp_path):
    vectors = cached_embeddings(TEXTS, small_tfidf(), tmp_path)
    assert vectors.shape == (len(TEXTS), 8)


needs_minilm = pytest.mark.skipif(not minilm_available(), reason="MiniLM not installed")


@needs_minilm
def test_minilm_embeds_similar_sentences_closer():
    encoder = get_encoder("minilm")
    vectors = encoder.fit([]).transform(
        ["I love my cat", "My cat is lovely and I adore her", "Quarterly tax filing deadline"]
    )
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2
