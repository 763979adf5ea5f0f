"""benchmarks/text_model_finetune.py: tuning MiniLM's top layers learns the training labels."""

from __future__ import annotations

import numpy as np
import pytest

from activelearning.encoders.base import EncoderUnavailable

pytest.importorskip("torch")
pytest.importorskip("transformers")

from benchmarks.text_model_finetune import tuned_embeddings

TOPICS = [
    "the train was late again this morning",
    "my grandmother bakes bread on sundays",
    "the match went to extra time last night",
    "we planted tomatoes in the garden",
    "the new phone has a bigger screen",
    "rain is forecast for the whole weekend",
    "she is learning to play the violin",
    "the museum opens a new exhibition",
    "our team shipped the release on friday",
    "the cat sleeps on the warm windowsill",
]


def _separation(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Mean cosine within a class minus mean cosine across classes (rows are unit norm)."""
    similarity = embeddings @ embeddings.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(labels.shape[0], dtype=bool)
    return float(similarity[same & off_diagonal].mean() - similarity[~same].mean())


def test_tuning_separates_a_label_the_frozen_embeddings_ignore():
    # The label is a colour word; the sentences' topics, which MiniLM encodes, say nothing of it.
    texts = [f"{topic} and the door was {colour}" for topic in TOPICS for colour in ("blue", "red")]
    labels = np.array([0, 1] * len(TOPICS))
    train = np.arange(len(texts))
    try:
        frozen, _ = tuned_embeddings(texts, labels, train, top_layers=2, epochs=0, seed=0)
    except EncoderUnavailable as error:
        pytest.skip(f"MiniLM is not installed: {error}")

    tuned, seconds = tuned_embeddings(
        texts, labels, train, top_layers=2, epochs=15, seed=0, learning_rate=1e-3
    )

    assert tuned.shape == (len(texts), 384)
    assert np.linalg.norm(tuned, axis=1) == pytest.approx(np.ones(len(texts)), abs=1e-5)
    assert _separation(tuned, labels) > _separation(frozen, labels) + 0.5
    assert set(seconds) == {"frozen_layers_seconds", "tune_seconds", "total_seconds"}
