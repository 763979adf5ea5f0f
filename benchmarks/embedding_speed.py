"""Time to embed every Davidson tweet with MiniLM on this machine, and cache the embeddings.

python -m benchmarks.embedding_speed --out benchmarks/results/embedding_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from activelearning.embedding_cache import embedding_cache_path, texts_sha256
from activelearning.encoders import MiniLMEncoder
from activelearning.encoders.minilm import torch_thread_count
from benchmarks.datasets import REPO_ROOT, load_davidson

CACHE_DIR = REPO_ROOT / "var" / "cache" / "embeddings"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/embedding_speed.json"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=0, help="embed only the first N texts")
    args = parser.parse_args()

    dataset = load_davidson()
    texts = dataset.texts[: args.limit] if args.limit else dataset.texts
    encoder = MiniLMEncoder()
    started = time.perf_counter()
    encoder.load()
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    vectors = encoder.transform(texts, batch_size=args.batch_size)
    embed_seconds = time.perf_counter() - started

    path = embedding_cache_path(texts, encoder, CACHE_DIR)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors, allow_pickle=False)
    result = {
        "dataset": dataset.name,
        "dataset_sha256": texts_sha256(texts),
        "texts": len(texts),
        "encoder": encoder.name,
        "encoder_version": encoder.version,
        "backend": "torch",
        "batch_size": args.batch_size,
        "torch_threads": torch_thread_count(),
        "model_load_seconds": round(load_seconds, 2),
        "embed_seconds": round(embed_seconds, 2),
        "texts_per_second": round(len(texts) / embed_seconds, 1),
        "target_seconds": 60,
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "cache_file": str(path.relative_to(REPO_ROOT)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
