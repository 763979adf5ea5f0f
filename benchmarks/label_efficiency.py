"""One live active-learning round at production size: retrain on 3,000 labels, rescore 100k.

The learning curves themselves come from the management command (the live loop, simulated):

    python manage.py al_simulate --dataset ../shared/datasets/davidson2017/labeled_data.csv \\
        --format davidson --positive-label hate_speech --strategy random,margin,... \\
        --seed-size 100 --batch-size 25 --budget 3000 --repeats 10 --encoder minilm \\
        --model head --out benchmarks/results/al_davidson_hate_head.json \\
        --plot benchmarks/results/al_davidson_hate_head.png

This script times ``activelearning.loop.run_round`` (fit + score + select) on MiniLM
embeddings of Davidson: 3,000 labelled tweets and a pool of 100,000 synthesised by repeating
the Davidson embeddings with small Gaussian jitter (re-normalised), since no public pool of
100k tweets is on disk.

    python -m benchmarks.label_efficiency --out benchmarks/results/al_round_timing.json

``--features fusion`` times the platform's default text model instead: MiniLM ⊕ sparse TF-IDF
with the stacked head (one regression per block), the pool sampled from Davidson's rows:

    python -m benchmarks.label_efficiency --features fusion --models head \
        --strategies random,margin,margin_balanced --batch-size 25 \
        --out benchmarks/results/al_round_timing_fusion.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from activelearning.loop import ModelFactory, logistic_regression_factory, run_round
from activelearning.simulation import embed_texts, encode_task, read_dataset
from activelearning.training import TextClassifierHead
from benchmarks.datasets import load_davidson
from benchmarks.embedding_speed import load_average, machine_info
from benchmarks.text_model import build_features, default_head_params

REPO_ROOT = Path(__file__).resolve().parent.parent
DAVIDSON = (
    Path(os.environ.get("REVIEWTOOL_DATASETS", str(REPO_ROOT.parent / "shared" / "datasets")))
    / "davidson2017"
    / "labeled_data.csv"
)
MODELS: dict[str, ModelFactory] = {
    "head": lambda: TextClassifierHead(),
    "head-fast": lambda: TextClassifierHead(calibration="none", tune_thresholds=False),
    "logreg": logistic_regression_factory,
}


def synthesise_pool(X: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` rows: copies of ``X`` rows plus N(0, 0.02²) jitter, re-normalised to unit length."""
    rows = rng.integers(0, len(X), size=size)
    pool = X[rows] + rng.normal(0.0, 0.02, size=(size, X.shape[1])).astype(np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    return pool.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/al_round_timing.json"))
    parser.add_argument("--labelled", type=int, default=3000)
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="head,head-fast")
    parser.add_argument(
        "--strategies", default="random,margin,margin_balanced,cluster_margin,qbc,ranked_batch"
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--features", choices=("minilm", "fusion"), default="minilm", help="see the module text"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    models = dict(MODELS)
    if args.features == "fusion":
        dataset = load_davidson()
        X = build_features(dataset, ["fusion"])[0]["fusion"]
        y = np.asarray(dataset.labels)
        blocks = default_head_params("fusion", X)["blocks"]
        models["head"] = lambda: TextClassifierHead(blocks=blocks)
        labelled = rng.choice(X.shape[0], size=args.labelled, replace=False)
        pool = X[rng.integers(0, X.shape[0], size=args.pool)]
        pool_note = "Davidson's fused rows (MiniLM + sparse TF-IDF) sampled with replacement"
    else:
        data = read_dataset(DAVIDSON, dataset_format="davidson", text_field=None, label_field=None)
        X = embed_texts(
            data.texts, encoder_name="minilm", cache_dir=REPO_ROOT / "var/cache/embeddings"
        )
        y = encode_task(data.labels, None).y
        labelled = rng.choice(len(X), size=args.labelled, replace=False)
        pool = synthesise_pool(X, args.pool, rng)
        pool_note = "Davidson MiniLM embeddings repeated with N(0, 0.02^2) jitter, renormalised"
    rows = []
    with threadpool_limits(limits=args.threads):
        for model in args.models.split(","):
            for strategy in args.strategies.split(","):
                for repeat in range(args.repeats):
                    started = time.perf_counter()
                    result = run_round(
                        strategy=strategy,
                        model_factory=models[model],
                        X_labelled=X[labelled],
                        y_labelled=y[labelled],
                        X_pool=pool,
                        k=args.batch_size,
                        rng=np.random.default_rng(repeat),
                    )
                    total = time.perf_counter() - started
                    rows.append(
                        {"model": model, "strategy": strategy, "repeat": repeat, "total_s": total}
                        | result.timings
                    )
                    print(json.dumps(rows[-1]), flush=True)
    summary: dict[str, float] = {}
    for row in rows:
        key = f"{row['model']}/{row['strategy']}"
        summary[key] = min(summary.get(key, float("inf")), row["total_s"])
    result_json = {
        "what": "one run_round: fit on labelled + score + select a batch from the pool",
        "labelled": args.labelled,
        "pool": args.pool,
        "features": args.features,
        "pool_note": pool_note,
        "batch_size": args.batch_size,
        "blas_threads": args.threads,
        "machine": {**machine_info(), "load_average_at_end": load_average()},
        "best_total_s": summary,
        "rounds": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result_json, indent=1) + "\n")


if __name__ == "__main__":
    main()
