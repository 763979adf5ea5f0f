"""TF-IDF text encoder: word 1-2-grams and character 2-5-grams (within word boundaries).

Why optionally sparse: on Davidson the full sparse TF-IDF vocabulary classifies clearly better
than any dense projection of it (see ``benchmarks/text_model.py``), so ``transform_features``
returns the sparse matrix for heads that accept it, while ``transform`` keeps the
``Encoder`` contract (dense float32) by projecting through a TruncatedSVD learned in ``fit``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from activelearning.encoders.base import (
    Encoder,
    EncoderNotFitted,
    FloatMatrix,
    ProgressCallback,
)
from activelearning.encoders.text_normalization import NORMALIZATION_VERSION, normalize_text

TFIDF_VERSION = "1"


def _word_vectorizer(max_features: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        min_df=2,
        max_features=max_features,
        sublinear_tf=True,
        lowercase=True,
        token_pattern=r"(?u)[@#]?\b\w+\b",  # noqa: S106 - a regex, not a password
        dtype=np.float32,
    )


def _char_vectorizer(max_features: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=2,
        max_features=max_features,
        sublinear_tf=True,
        lowercase=True,
        dtype=np.float32,
    )


def _restore_vectorizer(
    vectorizer: TfidfVectorizer, vocabulary: list[str], idf: npt.NDArray[Any]
) -> TfidfVectorizer:
    vectorizer.vocabulary_ = {term: index for index, term in enumerate(vocabulary)}
    vectorizer.idf_ = np.asarray(idf)
    return vectorizer


def _vocabulary_list(vectorizer: TfidfVectorizer) -> list[str]:
    ordered = sorted(vectorizer.vocabulary_.items(), key=lambda pair: pair[1])
    return [term for term, _ in ordered]


class TfidfEncoder(Encoder):
    """Word (1-2-gram) + char_wb (2-5-gram) TF-IDF with sublinear tf, L2-normalised per block.

    Args:
        max_word_features: cap on the word vocabulary.
        max_char_features: cap on the character n-gram vocabulary.
        n_components: dimension of the dense projection returned by ``transform``
            (TruncatedSVD fitted in ``fit``); ``0`` disables it, then only
            ``transform_features`` (sparse) is available.
        random_state: seed of the SVD.
    """

    name = "tfidf"
    requires_fit = True

    def __init__(
        self,
        *,
        max_word_features: int = 1 << 16,
        max_char_features: int = 1 << 17,
        n_components: int = 384,
        random_state: int = 0,
    ) -> None:
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.n_components = n_components
        self.random_state = random_state
        self._word: TfidfVectorizer | None = None
        self._char: TfidfVectorizer | None = None
        self._svd_components: npt.NDArray[np.float32] | None = None
        self._state_digest = ""

    @property
    def version(self) -> str:
        base = (
            f"tfidf{TFIDF_VERSION}-norm{NORMALIZATION_VERSION}-w{self.max_word_features}"
            f"-c{self.max_char_features}-svd{self.n_components}"
        )
        return f"{base}-{self._state_digest}" if self._state_digest else base

    @property
    def is_fitted(self) -> bool:
        return self._word is not None and self._char is not None

    @property
    def sparse_dimension(self) -> int:
        """Number of columns of ``transform_features`` (word + char vocabulary size)."""
        word, char = self._require_fitted()
        return len(word.vocabulary_) + len(char.vocabulary_)

    @property
    def dimension(self) -> int:
        if self.n_components:
            if self._svd_components is None:
                raise EncoderNotFitted("TfidfEncoder.dimension is known only after fit")
            return int(self._svd_components.shape[0])
        return self.sparse_dimension

    def fit(self, texts: Sequence[str]) -> Self:
        """Learn both vocabularies, idf weights and (if enabled) the SVD projection."""
        normalized = [normalize_text(text) for text in texts]
        self._word = _word_vectorizer(self.max_word_features).fit(normalized)
        self._char = _char_vectorizer(self.max_char_features).fit(normalized)
        self._svd_components = None
        if self.n_components:
            sparse = self._sparse(normalized)
            components = min(self.n_components, sparse.shape[1] - 1, max(1, sparse.shape[0] - 1))
            svd = TruncatedSVD(n_components=components, random_state=self.random_state)
            svd.fit(sparse)
            self._svd_components = svd.components_.astype(np.float32)
        self._state_digest = self._compute_digest()
        return self

    def _require_fitted(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        if self._word is None or self._char is None:
            raise EncoderNotFitted("TfidfEncoder must be fitted before transform")
        return self._word, self._char

    def _sparse(self, normalized: Sequence[str]) -> sp.csr_matrix:
        word, char = self._require_fitted()
        # Each block is L2-normalised by the vectorizer; scale so the whole row has norm 1.
        stacked = sp.hstack([word.transform(normalized), char.transform(normalized)], format="csr")
        return (stacked * np.float32(np.sqrt(0.5))).astype(np.float32)

    def transform_features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Sparse TF-IDF features, float32 CSR of shape ``(n, sparse_dimension)``, rows norm 1."""
        return self._sparse([normalize_text(text) for text in texts])

    def transform(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 4096,
        progress: ProgressCallback | None = None,
    ) -> FloatMatrix:
        """Dense SVD projection, float32 of shape ``(n, n_components)``, rows L2-normalised."""
        self._require_fitted()
        if self._svd_components is None:
            raise EncoderNotFitted(
                "TfidfEncoder(n_components=0) has no dense output; use transform_features"
            )
        output = np.empty((len(texts), self._svd_components.shape[0]), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = self.transform_features(texts[start : start + batch_size])
            projected = np.asarray(chunk @ self._svd_components.T, dtype=np.float32)
            norms = np.linalg.norm(projected, axis=1, keepdims=True)
            output[start : start + len(projected)] = projected / np.maximum(norms, 1e-12)
            if progress is not None:
                progress(min(start + batch_size, len(texts)), len(texts))
        return output

    def _compute_digest(self) -> str:
        metadata, arrays = self._state_parts()
        digest = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode())
        for key in sorted(arrays):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(arrays[key]).tobytes())
        return digest.hexdigest()[:16]

    def _state_parts(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        word, char = self._require_fitted()
        metadata: dict[str, Any] = {
            "max_word_features": self.max_word_features,
            "max_char_features": self.max_char_features,
            "n_components": self.n_components,
            "random_state": self.random_state,
            "word_vocabulary": _vocabulary_list(word),
            "char_vocabulary": _vocabulary_list(char),
        }
        arrays: dict[str, npt.NDArray[Any]] = {
            "word_idf": np.asarray(word.idf_),
            "char_idf": np.asarray(char.idf_),
        }
        if self._svd_components is not None:
            arrays["svd_components"] = self._svd_components
        return metadata, arrays

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        metadata, arrays = self._state_parts()
        metadata["name"] = self.name
        metadata["version"] = self.version
        return metadata, arrays

    @classmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        encoder = cls(
            max_word_features=int(metadata["max_word_features"]),
            max_char_features=int(metadata["max_char_features"]),
            n_components=int(metadata["n_components"]),
            random_state=int(metadata["random_state"]),
        )
        encoder._word = _restore_vectorizer(
            _word_vectorizer(encoder.max_word_features),
            list(metadata["word_vocabulary"]),
            arrays["word_idf"],
        )
        encoder._char = _restore_vectorizer(
            _char_vectorizer(encoder.max_char_features),
            list(metadata["char_vocabulary"]),
            arrays["char_idf"],
        )
        if "svd_components" in arrays:
            encoder._svd_components = np.asarray(arrays["svd_components"], dtype=np.float32)
        encoder._state_digest = encoder._compute_digest()
        return encoder
