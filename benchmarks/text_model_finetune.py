"""Does fine-tuning MiniLM on the training labels lift the full-data text model? (issue 3)

The platform's default text model stacks a regression on frozen MiniLM embeddings with one on
word and character TF-IDF (``benchmarks/text_model.py``). This benchmark fine-tunes MiniLM's
top transformer layers on each split's training labels on CPU (class-balanced cross-entropy on
the mean-pooled embedding, as a classification head would), embeds every text with the tuned
model, and fits the platform's head on:

- ``fusion``: the default features (frozen MiniLM ⊕ TF-IDF), the baseline;
- ``tuned``: the tuned embeddings alone;
- ``tuned+tfidf``: the tuned embeddings in place of the frozen ones;
- ``fusion+tuned``: frozen MiniLM, TF-IDF and the tuned embeddings as three stacked blocks.

Same stratified 80/20 splits as ``text_model.py`` (seed ``s`` → the same test set); the
fine-tuning sees the training split only. The lower layers are frozen and run once per text
(their outputs cached in memory), which makes a CPU epoch several times cheaper than tuning all
six layers; ``--top-layers 6`` tunes them all.

    python -m benchmarks.text_model_finetune --seeds 3 \
        --out benchmarks/results/text_model_finetune_davidson.json
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.model_selection import train_test_split

from activelearning.embedding_cache import texts_sha256
from activelearning.encoders.minilm import minilm_model_path
from activelearning.encoders.text_normalization import normalize_text
from activelearning.training import library_versions
from benchmarks.datasets import LOADERS
from benchmarks.embedding_speed import load_average, machine_info
from benchmarks.text_model import (
    TARGETS,
    build_features,
    default_head_params,
    run_seed,
    summarize,
    write_report,
)

MAX_TOKENS = 128  # what the platform's MiniLM encoder reads of a text
BATCH_SIZE = 32
LEARNING_RATE = 1e-4  # of the tuned layers; the classification layer learns 10x faster


@dataclass
class _Batch:
    """Texts ``rows`` (by index) with their hidden states below the tuned layers."""

    rows: np.ndarray
    hidden: torch.Tensor  # (b, t, 384)
    additive_mask: torch.Tensor  # (b, 1, 1, t): 0 for tokens, a large negative for padding
    mask: torch.Tensor  # (b, t)


def _frozen_batches(texts: list[str], top_layers: int, batch_size: int = 64) -> tuple[Any, list]:
    """The model, and every text's hidden states at the input of its top ``top_layers``."""
    from transformers import AutoModel, AutoTokenizer

    path = str(minilm_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    cut = len(model.encoder.layer) - top_layers
    encoded = tokenizer([normalize_text(t) for t in texts], truncation=True, max_length=MAX_TOKENS)
    ids, attention = encoded["input_ids"], encoded["attention_mask"]
    # Batches of similar length: padding would cost as much as the tokens.
    order = np.argsort([len(row) for row in ids], kind="stable")
    batches = []
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            padded = tokenizer.pad(
                {
                    "input_ids": [ids[i] for i in rows],
                    "attention_mask": [attention[i] for i in rows],
                },
                return_tensors="pt",
            )
            hidden = model(**padded, output_hidden_states=True).hidden_states[cut]
            mask = padded["attention_mask"]
            additive = (1.0 - mask[:, None, None, :].float()) * -1e4
            batches.append(_Batch(rows, hidden.clone(), additive, mask))
    return model, batches


def _pooled(layers: Any, batch: _Batch, rows: slice | np.ndarray = slice(None)) -> torch.Tensor:
    hidden: Any = batch.hidden[rows]
    for layer in layers:
        hidden = layer(hidden, attention_mask=batch.additive_mask[rows])
        if isinstance(hidden, tuple):  # older transformers return (hidden, ...) from a layer
            hidden = hidden[0]
    mask = batch.mask[rows].unsqueeze(-1).float()
    pooled: torch.Tensor = (hidden * mask).sum(1) / mask.sum(1)
    return pooled


def _tune(
    layers: Any,
    classifier: torch.nn.Linear,
    steps: list[tuple[_Batch, np.ndarray]],
    labels: np.ndarray,
    *,
    epochs: int,
    seed: int,
    learning_rate: float,
) -> None:
    """Train ``layers`` and ``classifier`` on the training rows of ``steps`` (mini-batches of
    rows within a cached batch), class-balanced, with warm-up and linear decay."""
    trained = np.concatenate([batch.rows[rows] for batch, rows in steps])
    n_classes = classifier.out_features
    counts = np.bincount(labels[trained], minlength=n_classes)
    weight = torch.tensor(len(trained) / (n_classes * counts), dtype=torch.float32)
    optimiser = torch.optim.AdamW(
        [
            {"params": [p for layer in layers for p in layer.parameters()], "lr": learning_rate},
            {"params": classifier.parameters(), "lr": 10 * learning_rate},
        ],
        weight_decay=0.01,
    )
    total = max(1, epochs * len(steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda i: min(1.0, (i + 1) / (0.06 * total)) * max(0.0, (total - i) / total)
    )
    rng = np.random.default_rng(seed)
    for layer in layers:
        layer.train()
    for _ in range(epochs):
        for step in rng.permutation(len(steps)):
            batch, rows = steps[step]
            logits = classifier(_pooled(layers, batch, rows))
            target = torch.as_tensor(labels[batch.rows[rows]])
            loss = torch.nn.functional.cross_entropy(logits, target, weight=weight)
            loss.backward()
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
    for layer in layers:
        layer.eval()


def tuned_embeddings(
    texts: list[str],
    labels: np.ndarray,
    train_index: np.ndarray,
    *,
    top_layers: int,
    epochs: int,
    seed: int,
    learning_rate: float = LEARNING_RATE,
) -> tuple[np.ndarray, dict[str, float]]:
    """Unit-norm embeddings ``(n, 384)`` of all texts after tuning on ``train_index``'s labels."""
    torch.manual_seed(seed)
    started = time.perf_counter()
    model, batches = _frozen_batches(texts, top_layers)
    frozen_seconds = time.perf_counter() - started
    layers = model.encoder.layer[len(model.encoder.layer) - top_layers :]
    n_classes = int(labels.max()) + 1
    classifier = torch.nn.Linear(int(model.config.hidden_size), n_classes)
    in_train = np.zeros(labels.shape[0], dtype=bool)
    in_train[train_index] = True
    steps = [
        (batch, np.flatnonzero(in_train[batch.rows])[start : start + BATCH_SIZE])
        for batch in batches
        for start in range(0, int(in_train[batch.rows].sum()), BATCH_SIZE)
    ]
    tune_started = time.perf_counter()
    _tune(layers, classifier, steps, labels, epochs=epochs, seed=seed, learning_rate=learning_rate)
    tune_seconds = time.perf_counter() - tune_started
    embeddings = np.zeros((labels.shape[0], int(model.config.hidden_size)), dtype=np.float32)
    with torch.no_grad():
        for batch in batches:
            pooled = torch.nn.functional.normalize(_pooled(layers, batch), dim=1)
            embeddings[batch.rows] = pooled.numpy()
    seconds = {
        "frozen_layers_seconds": frozen_seconds,
        "tune_seconds": tune_seconds,
        "total_seconds": time.perf_counter() - started,
    }
    return embeddings, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="davidson")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--top-layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    dataset = LOADERS[args.dataset]()
    labels = np.asarray(dataset.labels)
    features, _ = build_features(dataset, ["fusion"])
    fusion = features["fusion"]
    fusion_blocks = default_head_params("fusion", fusion)["blocks"]  # (MiniLM, TF-IDF)
    tfidf = fusion[:, fusion_blocks[0] :]
    report: dict[str, Any] = {
        "dataset": dataset.name,
        "dataset_sha256": texts_sha256(dataset.texts),
        "n": int(labels.shape[0]),
        "class_names": dataset.class_names,
        "split": "stratified 80/20 per seed (as text_model.py); tuning sees the training split",
        "fine_tuning": {
            "top_layers": args.top_layers,
            "epochs": args.epochs,
            "batch_size": BATCH_SIZE,
            "learning_rate": LEARNING_RATE,
            "loss": "class-balanced cross-entropy on the mean-pooled embedding",
        },
        "targets": TARGETS.get(dataset.name),
        "library_versions": library_versions(),
        "machine": {**machine_info(), "load_average_at_start": load_average()},
        "tuning_seconds": [],
        "configs": {},
    }
    for seed in range(args.seeds):
        train_index, _ = train_test_split(
            np.arange(labels.shape[0]), test_size=0.2, stratify=labels, random_state=seed
        )
        tuned, seconds = tuned_embeddings(
            dataset.texts,
            labels,
            train_index,
            top_layers=args.top_layers,
            epochs=args.epochs,
            seed=seed,
        )
        report["tuning_seconds"].append(seconds)
        report["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        tuned_sparse = sp.csr_matrix(tuned)
        width = int(tuned.shape[1])
        configs: dict[str, tuple[Any, dict[str, Any]]] = {
            "fusion": (fusion, {"blocks": fusion_blocks}),
            "tuned": (tuned, {}),
            "tuned+tfidf": (
                sp.hstack([tuned_sparse, tfidf], format="csr"),
                {"blocks": (width, tfidf.shape[1])},
            ),
            "fusion+tuned": (
                sp.hstack([fusion, tuned_sparse], format="csr"),
                {"blocks": (*fusion_blocks, width)},
            ),
        }
        for name, (matrix, params) in configs.items():
            run = run_seed(matrix, labels, seed, params, dataset.class_names)
            entry = report["configs"].setdefault(name, {"head_params": params, "runs": []})
            entry["runs"].append(run)
            entry["summary"] = summarize(entry["runs"], dataset.class_names)
            print(
                seed,
                name,
                round(run["macro_f1"], 4),
                {n: round(v["f1"], 3) for n, v in run["per_class"].items()},
                flush=True,
            )
        write_report(args.out, report)


if __name__ == "__main__":
    main()
