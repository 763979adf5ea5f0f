from __future__ import annotations

import pytest

from activelearning.metrics import labels_to_reach, learning_curve_auc, macro_f1, per_class_f1


def test_macro_f1_averages_classes_without_weighting_by_support():
    y_true = [0, 0, 0, 0, 1]
    y_pred = [0, 0, 0, 0, 0]
    # class 0: F1 = 8/9; class 1: never predicted -> 0
    assert macro_f1(y_true, y_pred) == pytest.approx((8 / 9) / 2)


def test_per_class_f1_keys_are_the_labels_as_strings():
    scores = per_class_f1(["a", "b", "b"], ["a", "b", "a"])
    assert scores == pytest.approx({"a": 2 / 3, "b": 2 / 3})


def test_learning_curve_auc_of_a_flat_curve_is_its_value():
    assert learning_curve_auc([(0, 0.5), (100, 0.5)], 10, 90) == pytest.approx(0.5)


def test_learning_curve_auc_is_the_mean_of_a_linear_curve_and_clips_to_the_window():
    points = [(100, 1.0), (0, 0.0)]  # any order
    assert learning_curve_auc(points, 0, 100) == pytest.approx(0.5)
    assert learning_curve_auc(points, 50, 100) == pytest.approx(0.75)


def test_learning_curve_auc_rejects_an_empty_window():
    with pytest.raises(ValueError, match="hi > lo"):
        learning_curve_auc([(0, 0.1)], 5, 5)


def test_labels_to_reach_returns_the_first_measured_point_at_target():
    points = [(50, 0.4), (100, 0.7), (150, 0.65), (200, 0.8)]
    assert labels_to_reach(points, 0.7) == 100
    assert labels_to_reach(points, 0.75) == 200
    assert labels_to_reach(points, 0.9) is None
