"""Simulated active learning: reviewers who answer from the dataset's own labels.

The simulator drives ``activelearning.loop.run_round`` (and through it
``activelearning.strategies.select``), the same functions the live Celery tasks call, over a
labelled dataset: a fixed stratified test set is never queried; each seed draws its own initial
seed set (shared by all strategies, so seeds pair up) and its own strategy randomness. No Django.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sklearn
from matplotlib.figure import Figure
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from activelearning.embedding_cache import cached_embeddings
from activelearning.encoders import get_encoder
from activelearning.loop import ModelFactory, fit_model, run_round
from activelearning.strategies import STRATEGIES, Classifier, FloatArray

DATASET_FORMATS = ("csv", "jsonl", "davidson")
DAVIDSON_CLASSES = {"0": "hate_speech", "1": "offensive_language", "2": "neither"}
Progress = Callable[[str], None]


class SimulationError(ValueError):
    """Bad simulation input: unknown strategy, missing field, absent label, too small a pool."""


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of a simulation; every field is written to the result JSON."""

    strategies: tuple[str, ...]
    seed_size: int = 100
    batch_size: int = 50
    budget: int = 3000
    repeats: int = 10
    test_fraction: float = 0.2
    positive_label: str | None = None
    split_seed: int = 0
    committee_size: int = 5
    auc_range: tuple[int, int] = (100, 3000)
    beat_budgets: tuple[int, ...] = tuple(range(200, 3001, 100))
    seeds: tuple[int, ...] = field(default=())

    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds else list(range(self.repeats))

    def validate(self) -> None:
        unknown = [name for name in self.strategies if name not in STRATEGIES]
        if unknown:
            known = ", ".join(sorted(STRATEGIES))
            raise SimulationError(f"unknown strategy {', '.join(unknown)}; known: {known}")
        if not self.strategies:
            raise SimulationError("give at least one strategy")
        if min(self.seed_size, self.batch_size, self.repeats) < 1:
            raise SimulationError("seed size, batch size and repeats must be at least 1")
        if self.budget < self.seed_size:
            raise SimulationError(f"budget {self.budget} is below the seed size {self.seed_size}")
        if not 0.0 < self.test_fraction < 1.0:
            raise SimulationError(f"test fraction must be in (0, 1), got {self.test_fraction}")


# --- reading ----------------------------------------------------------------------------------


def read_dataset(
    path: Path | str, *, dataset_format: str, text_field: str | None, label_field: str | None
) -> LabelledTexts:
    """Texts and string labels, in file order, from a CSV, JSONL or the Davidson 2017 CSV.

    ``davidson`` defaults to ``tweet``/``class`` and names the classes (``hate_speech``,
    ``offensive_language``, ``neither``). Rows with an empty text or label are skipped.
    """
    if dataset_format not in DATASET_FORMATS:
        raise SimulationError(f"unknown format {dataset_format!r}; use one of {DATASET_FORMATS}")
    source = Path(path)
    if not source.is_file():
        raise SimulationError(f"dataset not found: {source}")
    if dataset_format == "davidson":
        text_field, label_field = text_field or "tweet", label_field or "class"
    if not text_field or not label_field:
        raise SimulationError("--text-field and --label-field are required for csv and jsonl")
    rows = _csv_rows(source) if dataset_format != "jsonl" else _jsonl_rows(source)
    texts: list[str] = []
    labels: list[str] = []
    for number, row in enumerate(rows, start=1):
        for name in (text_field, label_field):
            if name not in row:
                present = ", ".join(sorted(row)) or "none"
                raise SimulationError(f"row {number} has no field {name!r} (fields: {present})")
        text, label = row[text_field], row[label_field]
        if text is None or label is None or str(text) == "" or str(label) == "":
            continue
        label = str(label)
        if dataset_format == "davidson":
            label = DAVIDSON_CLASSES.get(label, label)
        texts.append(str(text))
        labels.append(label)
    if not texts:
        raise SimulationError(f"no labelled rows in {source}")
    return LabelledTexts(texts=texts, labels=labels)


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as stream:
        yield from csv.DictReader(stream)


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise SimulationError(f"line {number} is not JSON: {error.msg}") from None
            if not isinstance(row, dict):
                raise SimulationError(f"line {number} is not a JSON object")
            yield row


def embed_texts(texts: Sequence[str], *, encoder_name: str, cache_dir: Path | str) -> FloatArray:
    """Embeddings ``(n, d)`` of ``texts`` by the named encoder, through the on-disk cache.

    A fitted encoder (TF-IDF) is fitted on all ``texts``, test rows included: unsupervised,
    as the live system fits it on the whole item pool.
    """
    return cached_embeddings(texts, get_encoder(encoder_name), cache_dir)


# --- the simulation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """Encoded targets: ``y`` integer classes, ``names[i]`` the label of class ``i``."""

    y: npt.NDArray[np.intp]
    names: list[str]
    f1_class: int
    f1_description: str


def encode_task(labels: Sequence[str], positive_label: str | None) -> Task:
    """Binary (``positive_label`` vs rest) or multiclass targets; picks the class whose F1 is
    reported as ``f1`` (the positive class, or the rarest class)."""
    values = np.asarray(labels, dtype=object)
    present, counts = np.unique(values, return_counts=True)
    if len(present) < 2:
        raise SimulationError(f"need at least two classes, found only {present.tolist()}")
    if positive_label is not None:
        if positive_label not in set(present.tolist()):
            raise SimulationError(
                f"positive label {positive_label!r} is not in the data; labels: "
                + ", ".join(map(str, present.tolist()))
            )
        y = (values == positive_label).astype(np.intp)
        return Task(y, ["rest", positive_label], 1, f"F1 of the positive class {positive_label!r}")
    y = np.searchsorted(present, values).astype(np.intp)
    rarest = int(np.argmin(counts))
    names = [str(name) for name in present]
    return Task(y, names, rarest, f"F1 of the rarest class {names[rarest]!r}")


def evaluate(
    model: Classifier, X: FloatArray, y: npt.NDArray[np.intp], task: Task
) -> dict[str, float]:
    """Macro-F1 over all classes and the F1 of ``task.f1_class`` on ``(X, y)``."""
    predicted = model.predict(X)
    per_class = f1_score(
        y, predicted, labels=list(range(len(task.names))), average=None, zero_division=0
    )
    return {"macro_f1": float(np.mean(per_class)), "f1": float(per_class[task.f1_class])}


def draw_seed_set(
    y_pool: npt.NDArray[np.intp], size: int, rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    """``size`` random pool rows holding at least two classes (redrawn until they do)."""
    if size > len(y_pool):
        raise SimulationError(f"seed size {size} is larger than the pool ({len(y_pool)})")
    for _ in range(100):
        chosen = rng.choice(len(y_pool), size=size, replace=False)
        if len(np.unique(y_pool[chosen])) >= 2:
            return np.asarray(chosen, dtype=np.intp)
    raise SimulationError(f"no seed set of {size} items with two classes after 100 draws")


def simulate_curve(
    *,
    strategy: str,
    model_factory: ModelFactory,
    X_pool: FloatArray,
    y_pool: npt.NDArray[np.intp],
    X_test: FloatArray,
    y_test: npt.NDArray[np.intp],
    task: Task,
    seed_rows: npt.NDArray[np.intp],
    config: SimulationConfig,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """One learning curve: rounds of ``run_round`` until ``config.budget`` labels."""
    labelled = list(seed_rows)
    unlabelled = np.ones(len(y_pool), dtype=bool)
    unlabelled[seed_rows] = False
    curve: list[dict[str, float]] = []
    timings: list[dict[str, float]] = []
    while True:
        rows = np.asarray(labelled, dtype=np.intp)
        remaining = np.flatnonzero(unlabelled)
        k = min(config.batch_size, config.budget - len(rows), len(remaining))
        if k <= 0:
            model = fit_model(model_factory, X_pool[rows], y_pool[rows], X_pool[remaining])
            curve.append({"labels": len(rows), **evaluate(model, X_test, y_test, task)})
            break
        result = run_round(
            strategy=strategy,
            model_factory=model_factory,
            X_labelled=X_pool[rows],
            y_labelled=y_pool[rows],
            X_pool=X_pool[remaining],
            k=k,
            rng=rng,
            committee_size=config.committee_size,
        )
        curve.append({"labels": len(rows), **evaluate(result.model, X_test, y_test, task)})
        timings.append({"labels": len(rows), **result.timings})
        picked = remaining[result.selected]
        unlabelled[picked] = False
        labelled.extend(picked.tolist())
    return {"curve": curve, "timings": timings}


def strategy_rng(seed: int, strategy: str) -> np.random.Generator:
    """Per (seed, strategy) randomness, independent of which other strategies run."""
    return np.random.default_rng([seed, zlib.crc32(strategy.encode())])


def simulate(
    *,
    texts: Sequence[str],
    labels: Sequence[str],
    X: FloatArray,
    config: SimulationConfig,
    model_factory: ModelFactory,
    model_name: str,
    encoder_name: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run every strategy for every seed; returns the JSON-serialisable result.

    ``X``: embeddings ``(n, d)`` of ``texts``; ``labels``: ``(n,)`` strings.
    """
    config.validate()
    if len(texts) != len(labels) or len(texts) != len(X):
        raise SimulationError("texts, labels and embeddings differ in length")
    task = encode_task(labels, config.positive_label)
    say = progress or (lambda message: None)
    all_rows = np.arange(len(labels))
    pool_rows, test_rows = train_test_split(
        all_rows,
        test_size=config.test_fraction,
        random_state=config.split_seed,
        stratify=np.asarray(labels, dtype=object),
    )
    X_pool, y_pool = X[pool_rows], task.y[pool_rows]
    X_test, y_test = X[test_rows], task.y[test_rows]
    if config.seed_size + config.batch_size > len(pool_rows):
        raise SimulationError(f"the pool ({len(pool_rows)} items) is too small for this run")

    started = time.perf_counter()
    full_model = fit_model(model_factory, X_pool, y_pool)
    full_data = {**evaluate(full_model, X_test, y_test, task), "labels": len(pool_rows)}
    full_data["fit_s"] = time.perf_counter() - started
    say(f"full data ({len(pool_rows)} labels): macro-F1 {full_data['macro_f1']:.4f}")

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in config.strategies}
    for seed in config.seed_list():
        seed_rows = draw_seed_set(y_pool, config.seed_size, np.random.default_rng(seed))
        for name in config.strategies:
            run_started = time.perf_counter()
            run = simulate_curve(
                strategy=name,
                model_factory=model_factory,
                X_pool=X_pool,
                y_pool=y_pool,
                X_test=X_test,
                y_test=y_test,
                task=task,
                seed_rows=seed_rows,
                config=config,
                rng=strategy_rng(seed, name),
            )
            run["seed"] = seed
            run["seconds"] = time.perf_counter() - run_started
            runs[name].append(run)
            last = run["curve"][-1]
            say(f"seed {seed} {name}: macro-F1 {last['macro_f1']:.4f} at {last['labels']} labels")

    counts = np.bincount(task.y, minlength=len(task.names))
    return {
        "config": {
            **asdict(config),
            "seeds": config.seed_list(),
            "encoder": encoder_name,
            "model": model_name,
        },
        "task": {
            "kind": "binary" if config.positive_label is not None else "multiclass",
            "classes": task.names,
            "class_counts": {
                name: int(count) for name, count in zip(task.names, counts, strict=True)
            },
            "f1": task.f1_description,
            "f1_label": task.names[task.f1_class],
            "n_items": len(labels),
            "n_pool": len(pool_rows),
            "n_test": len(test_rows),
            "test_split": f"stratified, random_state={config.split_seed}, fixed across seeds",
        },
        "environment": environment(),
        "full_data": full_data,
        "runs": runs,
        "summary": summarise(runs, full_data, config, n_pool=len(pool_rows)),
    }


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": _cpu_count(),
    }


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return 1


# --- summary ----------------------------------------------------------------------------------


def _matrix(runs: list[dict[str, Any]], metric: str) -> tuple[list[int], npt.NDArray[np.float64]]:
    grid = [point["labels"] for point in runs[0]["curve"]]
    values = np.array([[point[metric] for point in run["curve"]] for run in runs], dtype=float)
    return grid, values


def _area(
    grid: Sequence[int], values: npt.NDArray[np.float64], low: int, high: int
) -> float | None:
    """Trapezoid area of ``values`` over ``grid`` restricted to ``[low, high]``."""
    x = np.asarray(grid, dtype=float)
    inside = (x >= low) & (x <= high)
    if inside.sum() < 2:
        return None
    return float(np.trapezoid(values[inside], x[inside]))


def _labels_to_reach(
    grid: Sequence[int], mean: npt.NDArray[np.float64], target: float
) -> int | None:
    reached = np.flatnonzero(mean >= target)
    return int(grid[reached[0]]) if len(reached) else None


def summarise(
    runs: dict[str, list[dict[str, Any]]],
    full_data: dict[str, float],
    config: SimulationConfig,
    *,
    n_pool: int,
) -> dict[str, Any]:
    """Mean/std curves, AUC vs random, labels to 95%/100% of full data, paired wins vs random."""
    low, high = config.auc_range
    random_matrix = None
    random_area: float | None = None
    if runs.get("random"):
        random_grid, random_matrix = _matrix(runs["random"], "macro_f1")
        random_area = _area(random_grid, random_matrix.mean(axis=0), low, high)
    summary: dict[str, Any] = {}
    for name, strategy_runs in runs.items():
        if not strategy_runs:
            continue
        grid, macro = _matrix(strategy_runs, "macro_f1")
        _, positive = _matrix(strategy_runs, "f1")
        mean = macro.mean(axis=0)
        area = _area(grid, mean, low, high)
        entry: dict[str, Any] = {
            "mean_curve": [
                {
                    "labels": labels,
                    "macro_f1_mean": float(mean[i]),
                    "macro_f1_std": float(macro[:, i].std()),
                    "f1_mean": float(positive[:, i].mean()),
                    "f1_std": float(positive[:, i].std()),
                }
                for i, labels in enumerate(grid)
            ],
            "auc": area,
            "auc_range": [low, high],
            "auc_relative_to_random": (
                area / random_area if area is not None and random_area else None
            ),
            "labels_to_95pct_full_data": _labels_to_reach(grid, mean, 0.95 * full_data["macro_f1"]),
            "labels_to_100pct_full_data": _labels_to_reach(grid, mean, full_data["macro_f1"]),
            "ten_percent_of_pool": int(0.1 * n_pool),
            "mean_seconds_per_run": float(np.mean([run["seconds"] for run in strategy_runs])),
        }
        if random_matrix is not None and name != "random":
            entry["beats_random"] = _paired_wins(grid, macro, random_matrix, config.beat_budgets)
            seeds_won = [row["seeds_won"] for row in entry["beats_random"]]
            entry["min_seeds_beating_random"] = min(seeds_won) if seeds_won else None
        summary[name] = entry
    return summary


def _paired_wins(
    grid: Sequence[int],
    macro: npt.NDArray[np.float64],
    random_matrix: npt.NDArray[np.float64],
    budgets: Sequence[int],
) -> list[dict[str, Any]]:
    positions = {labels: i for i, labels in enumerate(grid)}
    wins = []
    for budget in budgets:
        if budget not in positions:
            continue
        i = positions[budget]
        won = int((macro[:, i] > random_matrix[:, i]).sum())
        wins.append({"labels": budget, "seeds_won": won, "seeds": len(macro)})
    return wins


# --- output -----------------------------------------------------------------------------------


def write_json(result: dict[str, Any], path: Path | str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def plot_curves(result: dict[str, Any], path: Path | str, *, title: str = "") -> None:
    """PNG of mean macro-F1 curves with ±1 std bands and the full-data line."""
    figure = Figure(figsize=(9, 5.5), dpi=110)
    axis = figure.subplots()
    for name, entry in result["summary"].items():
        grid = [point["labels"] for point in entry["mean_curve"]]
        mean = np.array([point["macro_f1_mean"] for point in entry["mean_curve"]])
        std = np.array([point["macro_f1_std"] for point in entry["mean_curve"]])
        style = "--" if name == "random" else "-"
        (line,) = axis.plot(grid, mean, style, label=name, linewidth=1.6)
        axis.fill_between(grid, mean - std, mean + std, color=line.get_color(), alpha=0.12)
    full = result["full_data"]["macro_f1"]
    axis.axhline(full, color="black", linewidth=1, label=f"full data ({full:.3f})")
    axis.axhline(0.95 * full, color="grey", linewidth=0.8, linestyle=":", label="95% of full data")
    axis.set_xlabel("labels")
    axis.set_ylabel("macro-F1 (test)")
    config = result["config"]
    axis.set_title(
        title
        or f"{result['task']['kind']}, {config['encoder']} + {config['model']}, "
        f"{len(config['seeds'])} seeds"
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target)
