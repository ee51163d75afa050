"""Calibration: expected calibration error, temperature scaling (one temperature per TTA mode) stored with a model
and applied by inference, and the "uncertain" label below a confidence threshold in predict, live and the app."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import BROWSER
from test_inference_registry import faces, tiny_model

from fer_lab.errors import FerLabError
from fer_lab.evaluation.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability,
    risk_coverage,
)
from fer_lab.labels import EMOTIONS
from fer_lab.tracking.model_io import ModelMetadata, apply_temperature

K = len(EMOTIONS)


def calibrated_case(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose top class is right exactly as often as its probability says, and the true classes."""
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(1 / K + 0.05, 1.0, n)
    top = rng.integers(0, K, n)
    probs = np.repeat(((1 - confidence) / (K - 1))[:, None], K, axis=1)
    probs[np.arange(n), top] = confidence
    wrong = (top + rng.integers(1, K, n)) % K  # another class, when the top one is wrong
    labels = np.where(rng.uniform(size=n) < confidence, top, wrong)
    return probs, labels


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident():
    probs, labels = calibrated_case()
    assert expected_calibration_error(probs, labels) < 0.015
    overconfident = apply_temperature(probs, 0.4)
    assert np.array_equal(overconfident.argmax(axis=1), probs.argmax(axis=1))
    assert expected_calibration_error(overconfident, labels) > 0.15
    bins = reliability(probs, labels)
    assert bins.counts.sum() == len(labels) and bins.counts[0] == 0 and np.isnan(bins.accuracy[0])


def test_temperature_scaling_calms_an_overconfident_model():
    probs, labels = calibrated_case()
    overconfident = apply_temperature(probs, 0.4)
    temperature = fit_temperature(overconfident, labels)
    assert 2.0 < temperature < 3.0  # undoes the 0.4
    scaled = apply_temperature(overconfident, temperature)
    assert expected_calibration_error(scaled, labels) < expected_calibration_error(overconfident, labels) / 5
    assert fit_temperature(apply_temperature(probs, 2.5), labels) < 1  # underconfident: sharpened


def test_risk_coverage_keeps_the_confident_faces():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.45, 0.55]])
    rows = risk_coverage(probs, np.array([0, 1, 1]), (0.0, 0.5, 0.7, 0.95))
    assert [(r.coverage, r.accuracy) for r in rows[:3]] == [(1.0, 2 / 3), (1.0, 2 / 3), (1 / 3, 1.0)]
    assert rows[3].coverage == 0.0 and np.isnan(rows[3].accuracy)


def test_metadata_round_trips_the_temperatures_and_old_metadata_means_none():
    meta = ModelMetadata(EMOTIONS, 48, 0.1, "tiny", temperatures={"crops": 0.9, "none": 1.7})
    assert ModelMetadata.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta
    assert (meta.temperature("none"), meta.temperature("crops"), meta.temperature("flip")) == (1.7, 0.9, 1.0)
    old = {k: v for k, v in meta.to_dict().items() if k != "temperatures"}
    assert ModelMetadata.from_dict(old).temperatures == {}
    for bad, message in (
        ({"none": 0.0}, r"temperature 0\.0 for tta=none: it must be a positive number"),
        ({"flip": float("nan")}, r"temperature nan for tta=flip"),
        ({"crops": "2"}, r"temperature '2' for tta=crops"),
        ({"ten": 1.5}, r"a temperature for tta 'ten': expected one of none, flip, crops"),
    ):
        with pytest.raises(FerLabError, match=message):
            ModelMetadata(EMOTIONS, 48, 0.1, "tiny", temperatures=bad)


def test_the_recognizer_serves_probabilities_at_its_tta_modes_temperature():
    from fer_lab.inference.detectors import make_detector
    from fer_lab.inference.recognizer import EmotionRecognizer

    model, x = tiny_model(), faces(6).astype("float32")
    plain = ModelMetadata(EMOTIONS, 48, 0.0, "tiny")
    raw = {
        tta: EmotionRecognizer(model, plain, make_detector("skip"), tta).predict_proba(x) for tta in ("none", "crops")
    }
    meta = ModelMetadata(EMOTIONS, 48, 0.0, "tiny", temperatures={"none": 3.0, "crops": 0.5})
    hot, sharp = (EmotionRecognizer(model, meta, make_detector("skip"), tta) for tta in ("none", "crops"))
    flat = hot.predict_proba(x)
    np.testing.assert_allclose(flat, apply_temperature(raw["none"], 3.0), rtol=1e-5)
    np.testing.assert_allclose(sharp.predict_proba(x), apply_temperature(raw["crops"], 0.5), rtol=1e-5)
    np.testing.assert_allclose(flat.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(flat.max(axis=1) < raw["none"].max(axis=1))
    assert np.all(sharp.predict_proba(x).max(axis=1) > raw["crops"].max(axis=1))
    flipped, unscaled = (EmotionRecognizer(model, m, make_detector("skip"), "flip") for m in (meta, plain))
    np.testing.assert_allclose(flipped.predict_proba(x), unscaled.predict_proba(x))  # no temperature at flip: 1
    assert [p.label for p in hot.predict(x)] == [EMOTIONS[i] for i in raw["none"].argmax(axis=1)]
    uncertain = hot.predict(x, uncertain_below=1.0)
    assert all(p.uncertain and p.label == "uncertain" for p in uncertain)
    assert uncertain[0].probabilities == pytest.approx(dict(zip(EMOTIONS, flat[0].tolist(), strict=True)))


def test_serve_request_scales_the_one_pass_answer_by_the_none_temperature():
    from fer_lab.inference.faces import Box
    from fer_lab.inference.serving import labelled_faces

    probs = np.array([[0.7, 0.1, 0.1, 0.05, 0.05, 0, 0]], "float32")
    meta = ModelMetadata(EMOTIONS, 48, 0.0, "tiny", temperatures={"none": 2.0, "crops": 0.5})
    face = labelled_faces(meta, [Box(0, 0, 10, 10)], probs)[0]
    assert face["confidence"] == round(float(apply_temperature(probs, 2.0)[0, 0]), 4) and face["label"] == "angry"


def test_predict_labels_unsure_faces_uncertain(tiny_bundled, tmp_path, capsys):
    from fer_lab.predict import main

    cv2.imwrite(str(tmp_path / "face.png"), faces(1)[0])
    table = [str(tmp_path / "face.png"), "--detector", "skip", "--tta", "none"]
    args = [*table, "--format", "json"]
    assert main(args) == 0
    sure = json.loads(capsys.readouterr().out)[0]["faces"][0]
    assert sure["label"] in EMOTIONS
    assert main([*args, "--uncertain-below", "0.99"]) == 0
    unsure = json.loads(capsys.readouterr().out)[0]["faces"][0]
    assert unsure["label"] == "uncertain" and unsure["probabilities"] == sure["probabilities"]
    assert main([*table, "--uncertain-below", "0.99"]) == 0
    assert "  uncertain  " in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--uncertain-below", "1.5"])
    assert exit_.value.code == 2 and "'1.5' is not a number in [0, 1]" in capsys.readouterr().err


def test_live_csv_and_overlay_say_uncertain(tmp_path):
    import csv

    from fer_lab.inference.faces import Box
    from fer_lab.inference.overlay import draw_faces
    from fer_lab.inference.recognizer import FacePrediction
    from fer_lab.inference.video import FaceCsv

    probs = np.array([[0.4, 0.3, 0.3, 0, 0, 0, 0], [0.8, 0.2, 0, 0, 0, 0, 0]], "float32")
    table = FaceCsv(tmp_path / "faces.csv", EMOTIONS, uncertain_below=0.5)
    table.write(0, 0.0, [Box(0, 0, 10, 10), Box(20, 0, 10, 10)], [0, 1], probs)
    table.close()
    rows = list(csv.DictReader((tmp_path / "faces.csv").open()))
    assert [r["label"] for r in rows] == ["uncertain", "angry"] and rows[0]["confidence"] == "0.4000"
    face = FacePrediction("uncertain", 0.4, dict(zip(EMOTIONS, probs[0].tolist(), strict=True)), Box(5, 20, 30, 30))
    draw_faces(np.zeros((120, 160, 3), np.uint8), [face], EMOTIONS)


def test_the_app_takes_a_threshold_in_range_only(make_client):
    from fer_lab.app.harness import face_crop

    client = make_client()
    png = cv2.imencode(".png", face_crop())[1].tobytes()
    upload = {"file": ("face.png", png, "image/png")}
    answer = client.post("/api/image", files=upload, data={"face_crop": "true", "uncertain_below": "1"})
    assert answer.status_code == 200 and answer.json()["faces"][0]["label"] == "uncertain"
    for bad in ("1.5", "-0.1", "nan", "lots"):
        refused = client.post("/api/image", files=upload, data={"uncertain_below": bad})
        error = refused.json()["error"]
        assert (
            refused.status_code == 400
            and error.startswith("uncertain_below ")
            and "must be a number in [0, 1]" in error
        )
    video = client.post("/api/video", files={"file": ("a.mp4", b"x")}, data={"uncertain_below": "2"})
    assert video.status_code == 400 and "uncertain_below 2.0 must be a number in [0, 1]" in video.json()["error"]
    with client.websocket_connect("/ws", headers=BROWSER) as ws:
        ws.send_text(json.dumps({"uncertain_below": 0.6}))
        assert ws.receive_json() == {"settings": {"tta": "none", "smoothing": 0.0, "uncertain_below": 0.6}}
        for bad in (1.01, -1, True, "0.5", None):
            ws.send_text(json.dumps({"uncertain_below": bad}))
            assert ws.receive_json()["error"].startswith("uncertain_below")
        ws.send_text(json.dumps({"tta": "flip"}))
        assert ws.receive_json()["settings"]["uncertain_below"] == 0.6  # a bad value left the setting as it was


def test_evaluation_logs_each_splits_ece_and_reliability_diagram(state_root):
    import mlflow

    from fer_lab.data import FerData, Split
    from fer_lab.evaluation.tracked import evaluate_and_log
    from fer_lab.tracking.runs import ensure_experiment
    from fer_lab.tracking.uri import configure_tracking

    rng = np.random.default_rng(0)

    def split(name: str) -> Split:
        x = rng.integers(0, 256, (14, 48, 48, 1)).astype("uint8")
        return Split(name, x, np.eye(K, dtype="float32")[np.arange(14) % K], f"{name} rows")

    data = FerData(split("train"), split("val"), split("test"), EMOTIONS, "random", ())
    model = tiny_model()
    with mlflow.start_run(experiment_id=ensure_experiment("test", configure_tracking(None))) as run:
        evaluation = evaluate_and_log(
            model, data, [data.val, data.test], tta="none", crop_fraction=0.875, unseen_test=False, temperature=2.0
        )
    raw = model.predict(data.val.x.astype("float32"), verbose=0)
    np.testing.assert_allclose(evaluation.probabilities["val"], apply_temperature(raw, 2.0), rtol=1e-5)
    assert evaluation.ece["val"] == pytest.approx(
        expected_calibration_error(apply_temperature(raw, 2.0), data.val.labels)
    )
    assert evaluation.reports["val"].accuracy == np.mean(raw.argmax(axis=1) == data.val.labels)
    logged = mlflow.get_run(run.info.run_id).data.metrics
    assert logged["val_ece"] == pytest.approx(evaluation.ece["val"]) and "test_ece" in logged
    figures = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "figures")}
    assert {"figures/reliability_val.png", "figures/reliability_test.png", "figures/confusion_test.png"} <= figures


@pytest.fixture
def carded_bundled(tmp_path, monkeypatch, state_root):
    """The tiny model as the bundled one, with every number its card renders."""
    from fer_lab.inference import bundled

    card = {
        "model_name": "tiny",
        "run_id": "0123abcd",
        "command": "python -m fer_lab.train model=tiny",
        "commit": "abc1234",
        "hardware": "2 cores",
        "data": "synthetic",
        "splits": {"train": "a", "val": "b", "test": "c"},
        "tta": "none",
        **dict.fromkeys(bundled.CARD_METRICS, 0.5),
        "train_minutes": 1.0,
        "epochs": 1,
        "params": 100,
        "size_mb": 0.1,
        "ms_per_face": 1.0,
    }
    folder = bundled.write_bundled_model(tiny_model(), ModelMetadata(EMOTIONS, 48, 0.1, "tiny"), card, tmp_path).folder
    monkeypatch.setattr(bundled, "BUNDLED_DIR", folder)
    return folder


CALIBRATE = ("data=synthetic", "data.samples_per_class=12")


def test_calibrate_writes_the_bundled_models_temperatures_and_card(carded_bundled, run_module):
    from fer_lab.inference.bundled import bundled_model
    from fer_lab.inference.loading import load_model

    result = run_module("fer_lab.calibrate", *CALIBRATE)  # no champion: the bundled model
    assert result.returncode == 0, result.stderr
    for tta in ("none", "flip", "crops"):
        assert f"fitted on val at tta={tta}" in result.stdout
    assert "at tta=crops (the default of predict, live, app):" in result.stdout
    assert "| uncertain below | answered |" in result.stdout and "bundled model's metadata" in result.stdout
    shipped = bundled_model()
    temperatures = shipped.metadata.temperatures
    assert set(temperatures) == {"none", "flip", "crops"} and load_model("bundled")[1] == shipped.metadata
    calibration = shipped.card["calibration"]
    assert calibration["command"] == "python -m fer_lab.calibrate " + " ".join(CALIBRATE)
    text = (carded_bundled / "MODEL_CARD.md").read_text()
    assert "| tta | T | val ECE before | val ECE after | test ECE before | test ECE after |" in text
    for tta, t in temperatures.items():
        mode = calibration["modes"][tta]
        assert mode["temperature"] == round(t, 4)
        row = f"| {tta} | {t:.3f} | {mode['val_ece_before']:.4f} | {mode['val_ece_after']:.4f} |"
        assert f"{row} {mode['test_ece_before']:.4f} | {mode['test_ece_after']:.4f} |" in text


def test_evaluate_logs_the_ece_at_the_models_temperature_for_its_tta(carded_bundled, run_module):
    import mlflow

    from fer_lab.inference.bundled import write_calibration

    def evaluate() -> dict[str, float]:
        result = run_module("fer_lab.evaluate", "model_uri=bundled", "split=test", "tta=none", *CALIBRATE)
        assert result.returncode == 0, result.stderr
        return mlflow.get_run(result.stdout.split("logged as MLflow run ")[1].split()[0]).data.metrics

    plain = evaluate()
    write_calibration({"none": 5.0, "crops": 1.0}, {})
    scaled = evaluate()
    assert scaled["test_accuracy"] == plain["test_accuracy"] and scaled["test_ece"] != pytest.approx(plain["test_ece"])


def test_calibrate_logs_a_registered_model_again_as_a_new_version(state_root, run_module):
    import mlflow

    from fer_lab.tracking.model_io import load_logged_model, log_keras_model
    from fer_lab.tracking.runs import ensure_experiment
    from fer_lab.tracking.uri import configure_tracking

    with mlflow.start_run(experiment_id=ensure_experiment("test", configure_tracking(None))):
        mlflow.log_metrics({"val_accuracy": 0.3, "val_ece": 0.2})
        log_keras_model(tiny_model(), ModelMetadata(EMOTIONS, 48, 0.1, "tiny"), faces(2), registered_name="mine")
    result = run_module("fer_lab.calibrate", "model_uri=models:/mine/1", *CALIBRATE)
    assert result.returncode == 0, result.stderr
    assert "as models:/mine/2; serve it with `python -m fer_lab.promote --name mine --version 2`" in result.stdout
    assert set(load_logged_model("models:/mine/2")[1].temperatures) == {"none", "flip", "crops"}
    version = mlflow.MlflowClient().get_model_version("mine", "2")
    metrics = mlflow.get_run(version.run_id).data.metrics
    assert metrics["val_accuracy"] == 0.3 and "val_ece" not in metrics
    for key in ("none_temperature", "val_none_ece_before", "val_flip_ece", "test_crops_ece", "test_crops_ece_before"):
        assert key in metrics, key
    figures = {a.path for a in mlflow.MlflowClient().list_artifacts(version.run_id, "figures")}
    assert {"figures/reliability_val_none.png", "figures/reliability_test_crops.png"} <= figures
    refused = run_module("fer_lab.calibrate", "model_uri=model.keras", *CALIBRATE)
    assert refused.returncode == 2 and "bare .keras file, with no metadata" in refused.stderr
