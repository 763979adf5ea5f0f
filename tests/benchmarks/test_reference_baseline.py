"""benchmarks/reference_baseline.py: Davidson et al.'s published model, re-implemented."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from benchmarks.reference_baseline import (
    LiblinearOneVsRest,
    letter_tokens,
    paired,
    paper_style_split,
    reference_features,
    reference_model,
    strip_tweet,
    tweet_counts,
)


def test_tokens_drop_mentions_and_urls_and_are_stemmed():
    tokens = letter_tokens(strip_tweet("RT @some_user: Running   dogs!! http://t.co/abc #ff"))

    # The tokenizer itself keeps "rt" and "ff"; the vectorizer's stop words drop them.
    assert tokens == ["rt", "run", "dog", "ff"]


def test_tweet_counts_follow_the_papers_definitions():
    text = "rt @a: look #tag #two http://t.co/x"

    counts = tweet_counts([text, "RT that start"])

    # Hashtags, mentions, URLs, then the paper's case-sensitive substring test for "rt".
    assert counts[0, 5:].tolist() == [2, 1, 1, 1.0]
    assert counts[0, 1] == len(text)
    assert counts[1, 5:].tolist() == [0, 0, 0, 1.0]  # "start" holds "rt"; "RT" does not


def test_paper_split_is_a_deterministic_unstratified_ten_percent():
    train, test = paper_style_split(1000, 42)

    assert test.shape[0] == 100
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(test, paper_style_split(1000, 42)[1])
    assert not np.array_equal(test, paper_style_split(1000, 0)[1])


def test_liblinear_one_vs_rest_weighs_only_the_positive_class():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 4))
    labels = np.repeat([0, 1, 2], [30, 180, 90])
    features[:, 0] += labels  # some signal, not separable

    model = LiblinearOneVsRest(0.0, 1.0, 0).fit(features, labels)

    # Class 0 (rare) vs rest: class 0 rows weighted 300/(3*30) = 3.33, all other rows 1.
    weight = 300 / (3 * 30)
    expected = LogisticRegression(solver="liblinear", class_weight={0: 1.0, 1: weight}).fit(
        features, (labels == 0).astype(int)
    )
    assert model.coef_[0] == pytest.approx(expected.coef_[0])
    assert model.predict_proba(features).sum(axis=1) == pytest.approx(np.ones(300))


def test_reference_model_learns_keyword_classes():
    words = {0: "vermin", 1: "idiot", 2: "sunshine"}
    fillers = ["today at the park", "with my friends", "after the game", "before lunch", "again"]
    texts = [
        f"{filler} {words[label]} {'#tag ' * (i % 3)}"
        for i, (label, filler) in enumerate(
            (label, filler) for label in (0, 1, 2) for filler in fillers * 40
        )
    ]
    labels = np.repeat([0, 1, 2], len(fillers) * 40)
    features = reference_features(texts)
    train, test = paper_style_split(labels.shape[0], 42)

    model = reference_model(0).fit(features[train], labels[train])

    assert (model.predict(features[test]) == labels[test]).all()


def test_paired_counts_the_splits_where_the_default_is_ahead():
    def run(macro: float, hate: float) -> dict:
        return {"macro_f1": macro, "per_class": {"hate": {"f1": hate}}}

    splits = [
        {"default": run(0.8, 0.5), "reference": run(0.7, 0.6)},
        {"default": run(0.7, 0.5), "reference": run(0.75, 0.4)},
    ]

    result = paired(splits, ["hate"])

    assert result["macro_f1"]["default_ahead"] == 1
    assert result["macro_f1"]["mean_difference"] == pytest.approx(0.025)
    assert result["hate_f1"]["default_ahead"] == 1
