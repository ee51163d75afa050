"""TTA views, split metrics, the leak-aware test report and figures."""

import keras
import numpy as np
import pytest

from fer_lab.data import Split
from fer_lab.evaluation import evaluate_split, predict_with_tta, unseen_test_report
from fer_lab.evaluation.plots import plot_confusion, plot_curves, plot_samples
from fer_lab.models import CROP


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
    x[:2, :, :4] = 255  # left bright -> class 0
    x[2:, :, 4:] = 255  # right bright -> class 1
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


def test_crops_tta_gives_an_input_crop_model_native_scale_corners():
    seen = []
    inputs = keras.Input((8, 8, 1))
    crop = keras.layers.CenterCrop(6, 6, name=CROP)(inputs)
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: keras.ops.ones((keras.ops.shape(t)[0], 2)) / 2)(crop))
    stem = keras.Model(inputs, crop)
    x = np.arange(4 * 64, dtype="float32").reshape(4, 8, 8, 1)

    class Spy:
        layers = model.layers

        def predict(self, view, **kwargs):
            seen.append(np.asarray(stem(view)))
            return model.predict(view, verbose=0)

    probs = predict_with_tta(Spy(), x, "crops")
    assert len(seen) == 10 and np.allclose(probs, 0.5)
    corners = [x[:, top : top + 6, left : left + 6] for top, left in [(0, 0), (0, 2), (2, 0), (2, 2), (1, 1)]]
    for k, corner in enumerate(corners):
        np.testing.assert_array_equal(seen[2 * k], corner)
        np.testing.assert_array_equal(seen[2 * k + 1], corner[:, :, ::-1])


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


def _leak_setup(test_labels):
    """6 test images (0-2 predicted a, 3-5 predicted b); train holds a copy of row 0 and a one-pixel variant of
    row 1, val a copy of row 3."""
    x = np.random.default_rng(0).integers(0, 200, (6, 8, 8, 1), dtype="uint8")
    x[:3, :, :4] = 255
    x[3:, :, 4:] = 255
    near = x[1].copy()
    near[0, 0] ^= 1
    y = np.eye(2, dtype="float32")[test_labels]
    test = Split("test", x, y, "PublicTest")
    train = Split("train", np.stack([x[0], near]), y[:2], "Training")
    val = Split("val", x[3:4], y[:1], "Training")
    return test, train, val


def test_unseen_test_report_scores_rows_without_an_exact_copy_in_train_or_val():
    test, train, val = _leak_setup([0, 1, 0, 1, 1, 0])  # right: rows 0, 2, 3, 4; wrong: 1, 5
    report = evaluate_split(LeftBrightModel(), test.x, test.y, ("a", "b"), split="test", origin=test.origin)
    assert report.accuracy == pytest.approx(4 / 6)
    unseen = unseen_test_report(report, test, (train, val), ("a", "b"))
    assert (unseen.unseen_rows, unseen.leaked_rows) == (4, 2)  # rows 0 and 3 leaked; the variant of 1 does not count
    assert unseen.unseen.confusion.tolist() == [[1, 1], [1, 1]]  # rows 1, 2, 4, 5
    metrics = unseen.metrics()
    assert metrics["test_unseen_accuracy"] == pytest.approx(0.5)
    assert metrics["test_leaked_accuracy"] == pytest.approx(1.0)
    assert (metrics["test_unseen_rows"], metrics["test_leaked_rows"]) == (4, 2)
    assert "test_unseen_macro_f1" in metrics and "test_unseen_recall_b" in metrics
    assert all(k.startswith(("test_unseen_", "test_leaked_")) for k in metrics)
    assert unseen.unseen.tta == report.tta
    assert unseen.summary().startswith("test_unseen (PublicTest rows without an exact copy in train or val (4 of 6)")
    assert unseen.summary().endswith("; the 2 leaked rows: accuracy 1.0000")


def test_unseen_test_report_without_leaked_or_unseen_rows():
    test, train, _val = _leak_setup([0, 0, 0, 1, 1, 1])
    report = evaluate_split(LeftBrightModel(), test.x, test.y, ("a", "b"), split="test", origin=test.origin)
    clean = unseen_test_report(report, test, (Split("train", train.x[1:], train.y[1:], "Training"),), ("a", "b"))
    assert (clean.unseen_rows, clean.leaked_rows, clean.leaked_accuracy) == (6, 0, None)
    assert "test_leaked_accuracy" not in clean.metrics() and clean.summary().endswith("; no leaked rows")
    everything = unseen_test_report(report, test, (Split("train", test.x, test.y, "Training"),), ("a", "b"))
    assert everything.unseen is None and everything.metrics() == {
        "test_unseen_rows": 0,
        "test_leaked_rows": 6,
        "test_leaked_accuracy": 1.0,
    }


def test_figures_are_written(tmp_path):
    x, y = _images()
    report = evaluate_split(LeftBrightModel(), x, y, ("a", "b"), split="val", origin="10% of Training")
    assert plot_confusion(report, ("a", "b"), tmp_path / "c.png").stat().st_size > 1000
    assert plot_curves({"loss": [1, 0.5], "val_loss": [1.1, 0.7]}, tmp_path / "k.png").stat().st_size > 1000
    assert plot_samples(x, y.argmax(1), y.argmax(1), ("a", "b"), "val", tmp_path / "s.png").stat().st_size > 1000
