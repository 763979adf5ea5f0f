"""``manage.py al_simulate`` end to end on a tiny CSV with the TF-IDF encoder."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

WORDS = {
    "spam": ["win", "prize", "free", "cash", "click", "offer", "winner", "claim"],
    "ham": ["lunch", "meeting", "tomorrow", "thanks", "see", "call", "home", "later"],
}


@pytest.fixture
def tiny_csv(tmp_path):
    lines = ["id,message,verdict"]
    for i in range(160):
        label = "spam" if i % 4 == 0 else "ham"
        words = WORDS[label]
        text = " ".join(words[(i + j) % len(words)] for j in range(5)) + f" note{i % 7}"
        lines.append(f"{i},{text},{label}")
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def simulate(path, tmp_path, **options):
    arguments = {
        "dataset": path,
        "format": "csv",
        "text_field": "message",
        "label_field": "verdict",
        "strategy": "random,margin,margin_balanced",
        "seed_size": 10,
        "batch_size": 10,
        "budget": 40,
        "repeats": 2,
        "test_fraction": 0.25,
        "encoder": "tfidf",
        "model": "head-fast",
        "cache_dir": tmp_path / "cache",
        "out": tmp_path / "result.json",
    }
    arguments.update(options)
    call_command("al_simulate", **arguments)


def test_it_writes_learning_curves_and_a_plot(tiny_csv, tmp_path):
    simulate(tiny_csv, tmp_path, positive_label="spam", plot=tmp_path / "curves.png")
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["config"]["encoder"] == "tfidf"
    assert result["config"]["model"] == "head-fast"
    assert result["task"]["f1_label"] == "spam"
    assert set(result["runs"]) == {"random", "margin", "margin_balanced"}
    assert [p["labels"] for p in result["runs"]["margin"][0]["curve"]] == [10, 20, 30, 40]
    assert "macro_f1" in result["full_data"]
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "random,clairvoyant"}, "unknown strategy clairvoyant"),
        ({"label_field": "missing"}, "no field 'missing'"),
        ({"positive_label": "eggs"}, "positive label 'eggs' is not in the data"),
        ({"format": "jsonl"}, "not JSON"),
        ({"encoder": "word2vec"}, "encoder 'word2vec' is not available"),
        ({"budget": 5}, "below the seed size"),
    ],
)
def test_bad_arguments_are_command_errors(tiny_csv, tmp_path, options, message):
    with pytest.raises(CommandError, match=message):
        simulate(tiny_csv, tmp_path, **options)
    assert not (tmp_path / "result.json").exists()


def test_a_missing_dataset_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="dataset not found"):
        simulate(tmp_path / "nope.csv", tmp_path)
