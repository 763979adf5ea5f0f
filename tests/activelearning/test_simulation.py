"""The simulator: documented JSON shape, full-data reference, paired comparisons, clear errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from activelearning.loop import logistic_regression_factory
from activelearning.simulation import (
    SimulationConfig,
    SimulationError,
    encode_task,
    plot_curves,
    read_dataset,
    simulate,
    write_json,
)


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def dataset():
    X, y = make_classification(
        n_samples=400,
        n_features=10,
        n_informative=5,
        n_classes=3,
        weights=[0.15, 0.5, 0.35],
        random_state=0,
    )
    names = np.array(["hate", "offensive", "neither"])
    labels = names[y].tolist()
    return [f"text {i}" for i in range(len(y))], labels, X


def run(dataset, **overrides):
    texts, labels, X = dataset
    settings: dict[str, Any] = {
        "strategies": ("random", "margin", "qbc"),
        "seed_size": 20,
        "batch_size": 20,
        "budget": 100,
        "repeats": 2,
        "test_fraction": 0.25,
        "auc_range": (20, 100),
        "beat_budgets": (40, 60, 80, 100),
        "committee_size": 3,
    }
    settings.update(overrides)
    return simulate(
        texts=texts,
        labels=labels,
        X=X,
        config=SimulationConfig(**settings),
        model_factory=logistic_regression_factory,
        model_name="logreg",
        encoder_name="synthetic",
    )


def test_binary_simulation_has_the_documented_shape(dataset, tmp_path):
    result = run(dataset, positive_label="hate")
    assert result["task"]["kind"] == "binary"
    assert result["task"]["f1_label"] == "hate"
    assert result["task"]["n_pool"] + result["task"]["n_test"] == 400
    assert set(result["full_data"]) >= {"macro_f1", "f1", "labels"}
    assert 0.0 <= result["full_data"]["macro_f1"] <= 1.0
    for name in ("random", "margin", "qbc"):
        runs = result["runs"][name]
        assert [run["seed"] for run in runs] == [0, 1]
        for one in runs:
            assert [point["labels"] for point in one["curve"]] == [20, 40, 60, 80, 100]
            assert set(one["curve"][0]) == {"labels", "macro_f1", "f1"}
            assert len(one["timings"]) == 4
            assert set(one["timings"][0]) == {"labels", "fit_s", "score_s", "select_s"}
    margin = result["summary"]["margin"]
    assert len(margin["mean_curve"]) == 5
    assert margin["auc_relative_to_random"] > 0
    assert [row["labels"] for row in margin["beats_random"]] == [40, 60, 80, 100]
    assert all(0 <= row["seeds_won"] <= 2 for row in margin["beats_random"])
    assert result["summary"]["random"]["auc_relative_to_random"] == pytest.approx(1.0)
    path = tmp_path / "out.json"
    write_json(result, path)
    assert json.loads(path.read_text())["config"]["seeds"] == [0, 1]
    plot_curves(result, tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_all_strategies_start_from_the_same_seed_set(dataset):
    result = run(dataset, strategies=("random", "margin"), repeats=1)
    first = [result["runs"][name][0]["curve"][0] for name in ("random", "margin")]
    assert first[0] == first[1]


def test_multiclass_reports_the_rarest_class(dataset):
    result = run(dataset, strategies=("random", "margin_balanced"), repeats=1)
    assert result["task"]["kind"] == "multiclass"
    assert result["task"]["f1_label"] == "hate"
    assert "rarest" in result["task"]["f1"]


def test_the_same_seeds_give_the_same_curves(dataset):
    first = run(dataset, strategies=("random", "diversity"), repeats=1)
    second = run(dataset, strategies=("random", "diversity"), repeats=1)
    assert first["runs"]["diversity"][0]["curve"] == second["runs"]["diversity"][0]["curve"]


def test_bad_inputs_are_clear_errors(dataset):
    with pytest.raises(SimulationError, match="unknown strategy bogus"):
        run(dataset, strategies=("random", "bogus"))
    with pytest.raises(SimulationError, match="positive label 'spam' is not in the data"):
        run(dataset, positive_label="spam")
    with pytest.raises(SimulationError, match="below the seed size"):
        run(dataset, budget=10)
    with pytest.raises(SimulationError, match="two classes"):
        encode_task(["a", "a"], None)


def test_reader_reads_csv_and_jsonl_and_names_a_missing_field(tmp_path):
    csv_path = tmp_path / "data.csv"
    csv_path.write_text('body,verdict\n"hello, world",ok\nbad,\nawful,bad\n')
    data = read_dataset(csv_path, dataset_format="csv", text_field="body", label_field="verdict")
    assert data.texts == ["hello, world", "awful"] and data.labels == ["ok", "bad"]
    jsonl_path = tmp_path / "data.jsonl"
    jsonl_path.write_text('{"t": "a", "l": 1}\n\n{"t": "b", "l": 0}\n')
    data = read_dataset(jsonl_path, dataset_format="jsonl", text_field="t", label_field="l")
    assert data.labels == ["1", "0"]
    with pytest.raises(SimulationError, match="no field 'label'"):
        read_dataset(csv_path, dataset_format="csv", text_field="body", label_field="label")
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(SimulationError, match="line 1 is not JSON"):
        read_dataset(
            tmp_path / "broken.jsonl", dataset_format="jsonl", text_field="t", label_field="l"
        )


def test_davidson_format_names_the_classes(tmp_path):
    path = tmp_path / "labeled_data.csv"
    path.write_text(
        ",count,hate_speech,offensive_language,neither,class,tweet\n"
        "0,3,2,1,0,0,first\n1,3,0,3,0,1,second\n2,3,0,0,3,2,third\n"
    )
    data = read_dataset(path, dataset_format="davidson", text_field=None, label_field=None)
    assert data.labels == ["hate_speech", "offensive_language", "neither"]
    assert data.texts == ["first", "second", "third"]
