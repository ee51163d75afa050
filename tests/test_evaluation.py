"""TTA views, split metrics and figures."""

import numpy as np
import pytest

from fer_lab.evaluation import evaluate_split, predict_with_tta
from fer_lab.evaluation.plots import plot_confusion, plot_curves, plot_samples


class LeftBrightModel:
    """Predicts class 0 when the left half is brighter than the right: sensitive to flips."""

    def __init__(self):
        self.calls = 0

    def predict(self, x, batch_size=None, verbose=0):
        self.calls += 1
        half = x.shape[2] // 2
        left = x[:, :, :half].mean(axis=(1, 2, 3)) > x[:, :, half:].mean(axis=(1, 2, 3))
        return np.stack([left, ~left], axis=1).astype("float32")


def _images():
    x = np.zeros((4, 8, 8, 1), dtype="uint8")
    x[:2, :, :4] = 255   # left bright -> class 0
    x[2:, :, 4:] = 255   # right bright -> class 1
    return x, np.eye(2, dtype="float32")[[0, 0, 1, 1]]


@pytest.mark.parametrize("mode,views", [("none", 1), ("flip", 2), ("crops", 10)])
def test_tta_averages_the_views_of_each_mode(mode, views):
    x, _ = _images()
    model = LeftBrightModel()
    probs = predict_with_tta(model, x, mode)
    assert model.calls == views
    assert probs.shape == (4, 2) and np.allclose(probs.sum(axis=1), 1)
    if mode == "flip":  # a flip-sensitive model is undecided after flip TTA
        assert np.allclose(probs, 0.5)


def test_split_report_metrics_are_labelled_with_the_split():
    x, y = _images()
    y_wrong = y.copy()
    y_wrong[0] = [0, 1]  # one mistake out of four
    report = evaluate_split(LeftBrightModel(), x, y_wrong, ("a", "b"), split="test", origin="PublicTest")
    assert report.accuracy == pytest.approx(0.75)
    assert report.confusion.tolist() == [[1, 0], [1, 2]]
    metrics = report.metrics()
    assert metrics["test_accuracy"] == pytest.approx(0.75)
    assert metrics["test_recall_b"] == pytest.approx(2 / 3)
    assert set(k.split("_")[0] for k in metrics) == {"test"}
    assert "PublicTest" in report.summary()


def test_figures_are_written(tmp_path):
    x, y = _images()
    report = evaluate_split(LeftBrightModel(), x, y, ("a", "b"), split="val", origin="10% of Training")
    assert plot_confusion(report, ("a", "b"), tmp_path / "c.png").stat().st_size > 1000
    assert plot_curves({"loss": [1, 0.5], "val_loss": [1.1, 0.7]}, tmp_path / "k.png").stat().st_size > 1000
    assert plot_samples(x, y.argmax(1), y.argmax(1), ("a", "b"), "val", tmp_path / "s.png").stat().st_size > 1000
