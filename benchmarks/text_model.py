"""Full-data benchmark of the platform's default text model (and the alternatives tried).

    python -m benchmarks.text_model --dataset davidson --seeds 10 \
        --out benchmarks/results/text_model_davidson.json

For each seed: a stratified 80/20 split; the head is trained on the 80 % and scored on the 20 %.
Encoders are fitted on the unlabelled texts of the whole pool (TF-IDF vocabulary and idf use no
labels), exactly as the platform fits them on its item pool. MiniLM embeddings are cached under
``var/cache/embeddings``. Also measures one active-learning round: retrain on 3,000 labels and
rescore a 100,000-item pool of 384-dimensional embeddings.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split

from activelearning.embedding_cache import cached_embeddings, texts_sha256
from activelearning.encoders import (
    MiniLMEncoder,
    TfidfEncoder,
    default_minilm_backend,
    default_text_encoder_name,
)
from activelearning.encoders.minilm import MINILM_DIMENSION
from activelearning.training import TextClassifierHead, evaluation_metrics, library_versions
from benchmarks.datasets import LOADERS, REPO_ROOT, TextDataset
from benchmarks.embedding_speed import load_average, machine_info

CACHE_DIR = REPO_ROOT / "var" / "cache" / "embeddings"
TARGETS = {"davidson": {"macro_f1": 0.773, "hate_f1": 0.55}}


def _platform_minilm() -> MiniLMEncoder:
    """MiniLM on the backend the platform uses here (ONNX int8 where installed)."""
    return MiniLMEncoder(backend=default_minilm_backend())


def _row_normalize(matrix: Any) -> Any:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    return sp.diags((1.0 / np.maximum(norms, 1e-12)).astype(np.float32)) @ matrix


def build_features(
    dataset: TextDataset, names: list[str]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Feature matrices by name, and the seconds each took to build."""
    features: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    minilm: Any = None
    tfidf: Any = None
    if any("minilm" in name or "fusion" in name for name in names):
        started = time.perf_counter()
        minilm = cached_embeddings(dataset.texts, _platform_minilm(), CACHE_DIR)
        seconds["minilm_embed_or_cache"] = time.perf_counter() - started
    if any("tfidf" in name or "fusion" in name for name in names):
        started = time.perf_counter()
        encoder = TfidfEncoder(n_components=0).fit(dataset.texts)
        tfidf = encoder.transform_features(dataset.texts)
        seconds["tfidf_fit_transform"] = time.perf_counter() - started
    for name in names:
        if name == "minilm":
            features[name] = minilm
        elif name == "tfidf":
            features[name] = tfidf
        elif name == "fusion":
            # The same weighting FusionEncoder.transform_features applies: unit-norm blocks.
            features[name] = sp.hstack(
                [sp.csr_matrix(minilm), _row_normalize(tfidf)], format="csr"
            ).astype(np.float32)
        elif name == "fusion_dense":
            started = time.perf_counter()
            svd = TfidfEncoder(n_components=384).fit(dataset.texts)
            features[name] = np.hstack([minilm, svd.transform(dataset.texts)])
            seconds["tfidf_svd_fit_transform"] = time.perf_counter() - started
    return features, seconds


HEADS: dict[str, dict[str, Any]] = {
    "default": {},
    # One regression on the concatenated blocks: the default before the stacked head.
    "unstacked": {"blocks": None},
    "single_offsets": {"threshold_bootstraps": 0},
    "no_thresholds": {"tune_thresholds": False},
    "no_calibration_no_thresholds": {"calibration": "none", "tune_thresholds": False},
}


def default_head_params(feature_name: str, matrix: Any) -> dict[str, Any]:
    """What the platform gives the head for ``matrix`` (the ``feature_name`` features): fusion's
    blocks (MiniLM, TF-IDF) are stacked, as ``activelearning.model_setup.head_params`` does for
    a ``FusionEncoder``."""
    if feature_name != "fusion":
        return {}
    return {"blocks": (MINILM_DIMENSION, int(matrix.shape[1]) - MINILM_DIMENSION)}


def fit_and_score(
    model: Any, features: Any, labels: np.ndarray, train: np.ndarray, test: np.ndarray
) -> dict[str, Any]:
    """Fit ``model`` on the ``train`` rows; its metrics on the ``test`` rows and its fit time."""
    started = time.perf_counter()
    model.fit(features[train], labels[train])
    fit_seconds = time.perf_counter() - started
    proba = model.predict_proba(features[test])
    metrics = evaluation_metrics(
        labels[test], model.predict(features[test]), proba, np.asarray(model.classes_)
    )
    metrics["fit_seconds"] = fit_seconds
    return metrics


def run_seed(
    features: Any, labels: np.ndarray, seed: int, head_params: dict[str, Any], names: list[str]
) -> dict[str, Any]:
    train_index, test_index = train_test_split(
        np.arange(labels.shape[0]), test_size=0.2, stratify=labels, random_state=seed
    )
    head = TextClassifierHead(random_state=seed, **head_params)
    metrics = fit_and_score(head, features, labels, train_index, test_index)
    metrics["per_class"] = {names[int(k)]: v for k, v in metrics["per_class"].items()}
    metrics["seed"] = seed
    metrics["class_offsets"] = head.class_offsets_.tolist()
    return metrics


def summarize(runs: list[dict[str, Any]], class_names: list[str]) -> dict[str, Any]:
    def stat(values: list[float]) -> dict[str, float]:
        return {
            "mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        }

    summary = {"macro_f1": stat([run["macro_f1"] for run in runs])}
    summary["accuracy"] = stat([run["accuracy"] for run in runs])
    for name in class_names:
        summary[f"{name}_f1"] = stat([run["per_class"][name]["f1"] for run in runs])
    summary["fit_seconds"] = stat([run["fit_seconds"] for run in runs])
    return summary


def time_active_learning_round(
    embeddings: np.ndarray, labels: np.ndarray, head_params: dict[str, Any], seed: int
) -> dict[str, float]:
    """Retrain on 3,000 labels and rescore 100,000 pool rows (384-d, embeddings tiled)."""
    rng = np.random.default_rng(seed)
    labelled = rng.choice(labels.shape[0], size=3000, replace=False)
    pool = embeddings[rng.integers(0, embeddings.shape[0], size=100_000)]
    started = time.perf_counter()
    head = TextClassifierHead(random_state=seed, **head_params).fit(
        embeddings[labelled], labels[labelled]
    )
    fitted = time.perf_counter()
    head.predict_proba(pool)
    finished = time.perf_counter()
    return {
        "fit_seconds": fitted - started,
        "rescore_seconds": finished - fitted,
        "round_seconds": finished - started,
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Rewrite the report after every seed, so an interrupted run still leaves its numbers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(LOADERS), default="davidson")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--features", default="fusion", help="comma list: fusion,tfidf,minilm,fusion_dense"
    )
    parser.add_argument("--heads", default="default", help=f"comma list of {sorted(HEADS)}")
    parser.add_argument("--C", type=float, default=None, help="override the head's C")
    parser.add_argument("--skip-round", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    dataset = LOADERS[args.dataset]()
    labels = np.asarray(dataset.labels)
    feature_names = args.features.split(",")
    features, feature_seconds = build_features(dataset, feature_names)
    report: dict[str, Any] = {
        "dataset": dataset.name,
        "dataset_sha256": texts_sha256(dataset.texts),
        "n": int(labels.shape[0]),
        "class_names": dataset.class_names,
        "class_counts": np.bincount(labels).tolist(),
        "default_encoder": default_text_encoder_name(),
        "default_head": TextClassifierHead().get_params(),
        "split": "stratified 80/20 per seed; encoders fitted on all (unlabelled) texts",
        "seeds": list(range(args.seeds)),
        "feature_seconds": feature_seconds,
        "minilm_backend": default_minilm_backend(),
        "targets": TARGETS.get(dataset.name),
        "library_versions": library_versions(),
        "machine": {**machine_info(), "load_average_at_start": load_average()},
        "configs": {},
    }
    if not args.skip_round and ("minilm" in features or "fusion" in features):
        minilm = cached_embeddings(dataset.texts, _platform_minilm(), CACHE_DIR)
        report["active_learning_round"] = {
            "labels": 3000,
            "pool": 100_000,
            "dimension": int(minilm.shape[1]),
            "default": time_active_learning_round(minilm, labels, {}, 0),
            "fast": time_active_learning_round(
                minilm, labels, {"calibration": "none", "tune_thresholds": False}, 0
            ),
        }
        print(json.dumps(report["active_learning_round"]), flush=True)
    for feature_name in feature_names:
        for head_name in args.heads.split(","):
            params = {
                **default_head_params(feature_name, features[feature_name]),
                **HEADS[head_name],
            }
            if args.C is not None:
                params["C"] = args.C
            key = f"{feature_name}/{head_name}" + (f"/C={args.C:g}" if args.C is not None else "")
            runs = []
            for seed in range(args.seeds):
                runs.append(
                    run_seed(features[feature_name], labels, seed, params, dataset.class_names)
                )
                summary = summarize(runs, dataset.class_names)
                report["configs"][key] = {
                    "head_params": params,
                    "completed_seeds": len(runs),
                    "summary": summary,
                    "runs": runs,
                }
                write_report(args.out, report)
                print(
                    key,
                    seed,
                    round(runs[-1]["macro_f1"], 4),
                    {n: round(v["f1"], 3) for n, v in runs[-1]["per_class"].items()},
                    flush=True,
                )
            print(key, json.dumps(report["configs"][key]["summary"]), flush=True)
    write_report(args.out, report)


if __name__ == "__main__":
    main()
