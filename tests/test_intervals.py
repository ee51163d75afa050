"""Bootstrap intervals, paired differences and McNemar's test on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lab.evaluation.intervals import bootstrap_intervals, mcnemar_p, paired_differences
from fer_lab.evaluation.metrics import score_predictions

CLASSES = tuple("abcdefg")


def test_80_of_100_correct_matches_the_analytic_interval():
    truth = np.zeros(100, int)
    pred = truth.copy()
    pred[:20] = 1
    interval = bootstrap_intervals(truth, pred, 7)["accuracy"]
    half = 1.96 * np.sqrt(0.8 * 0.2 / 100)  # the normal approximation: p +- 1.96 sqrt(p (1 - p) / n)
    assert interval.low == pytest.approx(0.8 - half, abs=0.015) and interval.high == pytest.approx(
        0.8 + half, abs=0.015
    )


def test_resampling_persons_keeps_their_images_together():
    """20 persons of 5 images, each person all right or all wrong: resampling rows would ignore that the 100 images
    are only 20 independent answers, and give an interval about sqrt(5) times too narrow."""
    truth = np.zeros(100, int)
    pred = np.repeat(np.r_[np.zeros(16, int), np.ones(4, int)], 5)
    persons = np.repeat(np.arange(20), 5)
    by_row = bootstrap_intervals(truth, pred, 7)["accuracy"]
    by_person = bootstrap_intervals(truth, pred, 7, groups=persons)["accuracy"]
    width = by_person.high - by_person.low
    assert width == pytest.approx(2 * 1.96 * np.sqrt(0.8 * 0.2 / 20), rel=0.2)
    assert width > 1.8 * (by_row.high - by_row.low)
    # every resample is a whole number of persons: accuracies are multiples of 1/20 of the persons drawn
    assert by_person.low * 20 == pytest.approx(round(by_person.low * 20))


def test_a_known_difference_has_the_right_sign_and_a_small_p_value_and_a_model_against_itself_p_1():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 7, 2000)
    weak = np.where(rng.random(2000) < 0.6, truth, (truth + 1) % 7)
    strong = np.where(rng.random(2000) < 0.5, truth, weak)  # right wherever weak is, and on half of the rest
    diff = paired_differences(truth, weak, strong, 7)
    assert 0 < diff["accuracy"].low < diff["accuracy"].high and diff["macro_f1"].low > 0
    assert mcnemar_p(truth, weak, strong) < 1e-6
    assert mcnemar_p(truth, weak, weak) == 1.0
    same = paired_differences(truth, weak, weak, 7)
    assert (same["accuracy"].low, same["accuracy"].high) == (0.0, 0.0)


def test_a_report_logs_and_prints_its_intervals():
    truth = np.repeat(np.arange(7), 10)
    report = score_predictions(truth, truth, CLASSES, split="test", origin="PublicTest", tta="none")
    metrics = report.metrics()
    assert metrics["test_accuracy_ci_low"] == metrics["test_accuracy_ci_high"] == 1.0
    assert {"test_macro_f1_ci_low", "test_macro_f1_ci_high"} <= set(metrics)
    assert (
        report.summary()
        == "test (PublicTest, tta=none): accuracy 1.0000 [1.000, 1.000], macro-F1 1.0000 [1.000, 1.000]"
    )
