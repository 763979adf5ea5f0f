"""Time to embed every Davidson tweet with the platform's MiniLM encoder, per backend.

    python -m benchmarks.embedding_speed --backends onnx-int8 torch \\
        --out benchmarks/results/embedding_speed.json

Each backend is the encoder the platform runs (``MiniLMEncoder(backend=...)``), timed on all texts
with its default batch size. An ONNX backend starts from an empty cache, so its first load (the
one-time export and quantisation) is reported apart from a load from the cache and from the
embedding itself. The machine is shared: the load average before and after each backend is
recorded, and a number measured under load is slower than the box can do. Backends not run this
time keep their entry from the existing output file, marked ``earlier_run``. The embeddings are
saved into the benchmarks' embedding cache (``var/cache/embeddings``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from activelearning.embedding_cache import embedding_cache_path, texts_sha256
from activelearning.encoders import MiniLMEncoder
from activelearning.encoders.minilm import MINILM_BACKENDS, inference_thread_count
from activelearning.encoders.minilm_onnx import ONNX_BACKENDS
from benchmarks.datasets import REPO_ROOT, load_davidson

CACHE_DIR = REPO_ROOT / "var" / "cache" / "embeddings"
TARGET_SECONDS = 60


def cpu_model() -> dict[str, Any]:
    """The CPU's name and whether it has the int8 dot-product instructions int8 MatMul is fast with.

    The same command gave 52 s and 92 s on two boxes with the same core count: one had AVX-512
    VNNI, the other AVX2 only, so a timing means little without these.
    """
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": platform.processor() or None}
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags_line = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return {
        "model": model.group(1).strip() if model else None,
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "int8_dot_product": sorted(flags & {"avx512_vnni", "avx_vnni", "amx_int8"}),
    }


def machine_info() -> dict[str, Any]:
    versions = {}
    for package in ("onnxruntime", "onnx", "torch", "sentence-transformers", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "inference_threads": inference_thread_count(),
        "packages": versions,
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def load_timings(backend: str, onnx_cache_dir: Path) -> dict[str, Any]:
    """Seconds to load ``backend``: first (ONNX: export into an empty cache) and from the cache."""
    started = time.perf_counter()
    MiniLMEncoder(backend=backend, onnx_cache_dir=onnx_cache_dir).load()
    first = time.perf_counter() - started
    started = time.perf_counter()
    MiniLMEncoder(backend=backend, onnx_cache_dir=onnx_cache_dir).load()
    cached = time.perf_counter() - started
    timings: dict[str, Any] = {"first_load_seconds": round(first, 2)}
    if backend in ONNX_BACKENDS:
        (manifest,) = onnx_cache_dir.glob("minilm-*/manifest.json")
        timings["export_seconds"] = json.loads(manifest.read_text())["export_seconds"]
        timings["cached_load_seconds"] = round(cached, 2)
    return timings


def measure(backend: str, texts: list[str], onnx_cache_dir: Path) -> dict[str, Any]:
    """Load and embedding timings of one backend; saves its embeddings to the cache."""
    result: dict[str, Any] = {"load_average_before": load_average()}
    result.update(load_timings(backend, onnx_cache_dir))
    encoder = MiniLMEncoder(backend=backend, onnx_cache_dir=onnx_cache_dir)
    encoder.load()
    started = time.perf_counter()
    cpu_started = time.process_time()
    vectors = encoder.transform(texts)
    seconds = time.perf_counter() - started
    path = embedding_cache_path(texts, encoder, CACHE_DIR)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors, allow_pickle=False)
    result.update(
        {
            "encoder_version": encoder.version,
            "embed_seconds": round(seconds, 1),
            "embed_cpu_seconds": round(time.process_time() - cpu_started, 1),
            "texts_per_second": round(len(texts) / seconds, 1),
            "within_target": seconds <= TARGET_SECONDS,
            "load_average_after": load_average(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cache_file": str(path.relative_to(REPO_ROOT)),
        }
    )
    return result


def earlier_backends(path: Path, texts_digest: str) -> dict[str, Any]:
    """Entries of an earlier run on the same texts, marked ``earlier_run``."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if earlier.get("dataset_sha256") != texts_digest:
        return {}
    backends = earlier.get("backends", {})
    return {name: {**entry, "earlier_run": True} for name, entry in backends.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/embedding_speed.json"))
    parser.add_argument("--backends", nargs="+", choices=MINILM_BACKENDS, default=["onnx-int8"])
    parser.add_argument("--limit", type=int, default=0, help="embed only the first N texts")
    args = parser.parse_args()

    dataset = load_davidson()
    texts = dataset.texts[: args.limit] if args.limit else dataset.texts
    digest = texts_sha256(texts)
    backends = earlier_backends(args.out, digest)
    for backend in args.backends:
        with tempfile.TemporaryDirectory(prefix="onnx-cache-") as onnx_cache_dir:
            backends[backend] = measure(backend, texts, Path(onnx_cache_dir))
        print(backend, json.dumps(backends[backend]), flush=True)
    result = {
        "benchmark": "embedding_speed",
        "dataset": dataset.name,
        "dataset_sha256": digest,
        "texts": len(texts),
        "encoder": MiniLMEncoder.name,
        "target_seconds": TARGET_SECONDS,
        "machine": machine_info(),
        "backends": backends,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
