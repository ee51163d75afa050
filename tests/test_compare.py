"""`python -m fer_lab.compare`: models scored on the same rows, each against the first with paired intervals."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lab.compare import compare_predictions
from fer_lab.data import Split
from fer_lab.labels import EMOTIONS

SIZE = 16
SHADE = 30  # the images of class k are filled with k * SHADE


def _split(labels: np.ndarray, groups: np.ndarray | None = None) -> Split:
    return Split(
        "test", np.zeros((len(labels), 2, 2, 1), np.uint8), np.eye(7, dtype=np.float32)[labels], "rows", groups
    )


def test_a_worse_model_has_a_negative_difference_and_a_small_p_value():
    truth = np.repeat(np.arange(7), 20)
    worse = np.where(truth >= 4, 0, truth)  # misses every row of classes 4-6
    comparison = compare_predictions(_split(truth), EMOTIONS, ["good", "worse"], ["none", "none"], [truth, worse])
    (difference,) = comparison.differences
    assert difference.accuracy == pytest.approx(-60 / 140)
    assert difference.intervals["accuracy"].high < 0 and difference.intervals["macro_f1"].high < 0
    assert difference.p_value < 1e-6 and (difference.only_first, difference.only_this) == (60, 0)
    assert [difference.recall[name] for name in EMOTIONS] == [0, 0, 0, 0, -1, -1, -1]
    metrics = comparison.metrics()
    assert metrics["A_accuracy"] == 1 and metrics["B_minus_A_accuracy"] == pytest.approx(-60 / 140)
    assert metrics["B_vs_A_mcnemar_p"] == difference.p_value and metrics["B_minus_A_recall_angry"] == 0


def test_a_model_against_itself_differs_by_nothing():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 7, 90)
    pred = np.where(rng.random(90) < 0.6, truth, rng.integers(0, 7, 90))
    persons = np.arange(90) // 3
    comparison = compare_predictions(_split(truth, persons), EMOTIONS, ["m", "m"], ["flip", "flip"], [pred, pred])
    (difference,) = comparison.differences
    assert difference.p_value == 1.0 and difference.accuracy == difference.macro_f1 == 0
    assert all((i.low, i.high) == (0, 0) for i in difference.intervals.values())
    assert set(difference.recall.values()) == {0}
    assert comparison.groups == 30 and "resamples of the 30 persons" in comparison.tables()


def _model_file(path, right_classes: int) -> str:
    """A .keras model that reads the class off an image's mean shade: the nearest class below `right_classes`."""
    import keras

    centres = SHADE * np.arange(7, dtype="float32")
    weights, bias = 2 * centres, -(centres**2)  # argmax of -(mean - centre)^2: the nearest centre
    weights[right_classes:], bias[right_classes:] = 0, -1e6
    inputs = keras.Input((SIZE, SIZE, 1))
    dense = keras.layers.Dense(7, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(inputs)))
    dense.set_weights([weights[None, :], bias])
    model.save(path)
    return str(path)


@pytest.fixture
def shaded_csv(data_csv):
    """A FER-2013 CSV whose images of class k are filled with k * SHADE: 10 training and 6 test rows a class."""
    rows = [
        (k, np.full((SIZE, SIZE), k * SHADE, np.uint8), usage)
        for usage, per_class in (("Training", 10), ("PublicTest", 6))
        for k in range(7)
        for _ in range(per_class)
    ]
    return data_csv(rows)


def test_cli_prints_the_tables_and_logs_a_run(state_root, tmp_path, shaded_csv, run_module):
    import mlflow

    good, worse = _model_file(tmp_path / "good.keras", 7), _model_file(tmp_path / "worse.keras", 4)
    data = (f"data.path={shaded_csv}", f"data.image_size={SIZE}", "data.cache=false")
    result = run_module("fer_lab.compare", good, worse, *data, "tta=[none,crops]")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "test split (PublicTest): the same 42 rows for every model" in out
    assert f"| A | {good} | none | 1.0000 [1.000, 1.000] |" in out
    assert "| B | -0.4286 [" in out and "| 18 | 0 |" in out
    assert "| happy | 6 | 1.0000 | +0.0000 |" in out and "| neutral | 6 | 1.0000 | -1.0000 |" in out
    run_id = out.split("logged as MLflow run ")[1].split()[0]
    run = mlflow.get_run(run_id)
    assert mlflow.get_experiment(run.info.experiment_id).name == "compare"
    assert run.data.params["models"] == f"{good} {worse}" and run.data.params["tta"] == "none crops"
    assert run.data.metrics["B_minus_A_accuracy"] == pytest.approx(-18 / 42)
    assert run.data.metrics["B_vs_A_mcnemar_p"] < 1e-4
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "compare")}
    assert artifacts == {"compare/comparison.md", "compare/comparison.png"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bundled",), "compare takes 2 to 26 model URIs, got 1 (bundled)"),
        (("bundled", "bundled", "tta=[crops]"), "invalid config value tta=['crops']"),
        (("bundled", "bundled", "splt=val"), "did you mean `split=val`?"),
        (("bundled", "models:/nothing/1"), "cannot load model models:/nothing/1"),
    ],
)
def test_user_errors_are_one_line(tiny_bundled, args, message, run_module):
    result = run_module("fer_lab.compare", *args)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]  # after MLflow's own log lines, when it creates the store
    assert last.startswith("fer_lab: error: ") and message in last


def test_data_of_other_classes_is_refused(state_root, tmp_path, run_module):
    import cv2

    for k, name in enumerate(("angry", "happy", "sad")):
        (tmp_path / "faces" / name).mkdir(parents=True)
        for i in range(16):
            cv2.imwrite(str(tmp_path / "faces" / name / f"{i}.png"), np.full((SIZE, SIZE), 20 * k + i, np.uint8))
    model = _model_file(tmp_path / "good.keras", 7)
    data = ("data=class_folders", f"data.path={tmp_path / 'faces'}", f"data.image_size={SIZE}", "data.folds=4")
    result = run_module("fer_lab.compare", model, model, *data, "data.cache=false")
    assert result.returncode == 2, result.stderr
    assert "the data has 16px and ('angry', 'happy', 'sad')" in result.stderr
