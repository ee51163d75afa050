"""The bundled reference model: written from a logged run with its card, used when no champion exists,
registered on request, served by `make serve`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_inference_registry import faces, tiny_model

from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS

METRICS = {
    "val_accuracy": 0.61,
    "val_macro_f1": 0.58,
    "test_accuracy": 0.62,
    "test_macro_f1": 0.59,
    "test_recall_disgust": 0.4,
    "test_recall_fear": 0.3,
    "train_seconds": 120.0,
    "epochs_trained": 3.0,
}


@pytest.fixture
def logged(state_root):
    """A tiny model logged (not registered as champion) by a run with a card's metrics and tags."""
    import mlflow

    from fer_lab.tracking.model_io import ModelMetadata, log_keras_model
    from fer_lab.tracking.runs import ensure_experiment
    from fer_lab.tracking.uri import configure_tracking

    model = tiny_model()
    with mlflow.start_run(experiment_id=ensure_experiment("test", configure_tracking(None))) as run:
        mlflow.log_metrics(METRICS)
        mlflow.log_param("evaluation.tta", "flip")
        mlflow.set_tags(
            {
                "git_commit": "abc1234",
                "data.source": "/somewhere/fer2013.csv.gz",
                "data.val_fingerprint": "f00d",
                "data.test_origin": "PublicTest",
            }
        )
        log_keras_model(model, ModelMetadata(EMOTIONS, 48, 0.05, "tiny"), faces(2), registered_name="source")
    return {"model": model, "run_id": run.info.run_id, "uri": f"runs:/{run.info.run_id}/model"}


@pytest.fixture
def bundled_dir(logged, tmp_path, monkeypatch):
    from fer_lab.inference import bundled

    folder = tmp_path / "reference"
    bundled.write_from_run(logged["uri"], "python -m fer_lab.train model=tiny", folder=folder)
    monkeypatch.setattr(bundled, "BUNDLED_DIR", folder)
    return folder


def test_write_renders_the_card_from_the_run(bundled_dir, logged):
    info = json.loads((bundled_dir / "model.json").read_text())
    card = info["card"]
    assert info["metadata"]["face_margin"] == 0.05 and info["metadata"]["class_names"] == list(EMOTIONS)
    assert card["run_id"] == logged["run_id"] and card["commit"] == "abc1234" and card["tta"] == "flip"
    assert card["test_accuracy"] == 0.62 and card["data"] == "fer2013.csv.gz" and card["size_mb"] > 0
    text = (bundled_dir / "MODEL_CARD.md").read_text()
    assert "python -m fer_lab.train model=tiny" in text and "| test | 0.6200 | 0.5900 | 0.4000 | 0.3000 |" in text


def test_without_a_champion_inference_uses_the_bundled_model(bundled_dir, logged):
    from fer_lab import EmotionRecognizer
    from fer_lab.inference.catalog import default_model_uri

    assert default_model_uri() == "bundled"
    rec = EmotionRecognizer.from_default(tta="none")
    assert rec.metadata.face_margin == 0.05 and rec.metadata.model_name == "tiny"
    np.testing.assert_allclose(
        rec.predict_proba(faces()), logged["model"].predict(faces().astype("float32"), verbose=0), atol=1e-5
    )


def test_a_champion_takes_over_and_the_catalogue_lists_both(bundled_dir):
    from mlflow import MlflowClient

    from fer_lab.inference.catalog import available_models, default_model_uri, describe_model

    MlflowClient().set_registered_model_alias("source", "champion", "1")
    assert default_model_uri() == "bundled"  # the champion of `fer_lab`, not of another name
    entries = available_models()
    assert entries[0].uri == "bundled" and entries[0].test_accuracy == 0.62
    assert entries[1].uri == "models:/source/1" and entries[1].aliases == ("champion",)
    assert describe_model("models:/source@champion").val_accuracy == 0.61
    with pytest.raises(FerLabError, match="no registered model models:/nope@champion"):
        describe_model("models:/nope@champion")


def test_register_logs_it_with_its_validation_numbers(bundled_dir, capsys):
    from mlflow import MlflowClient

    from fer_lab.bundle import main
    from fer_lab.inference.catalog import default_model_uri

    main(["register"])
    assert "registered as fer_lab version 1 (@bundled)" in capsys.readouterr().out
    client = MlflowClient()
    version = client.get_model_version_by_alias("fer_lab", "bundled")
    run = client.get_run(version.run_id)
    assert run.data.metrics["val_accuracy"] == 0.61 and run.data.tags["data.val_fingerprint"] == "f00d"
    assert default_model_uri() == "bundled"  # registered, not promoted


def test_predict_without_a_model_says_it_uses_the_bundled_one(bundled_dir, tmp_path, capsys):
    import cv2

    from fer_lab.predict import main

    cv2.imwrite(str(tmp_path / "face.png"), faces(1)[0])
    assert main([str(tmp_path / "face.png"), "--detector", "skip", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "model bundled (bundled reference model (tiny): val accuracy 0.610, test accuracy 0.620)" in out.err
    assert json.loads(out.out)[0]["faces"][0]["label"] in EMOTIONS


def test_serve_turns_the_bundled_model_into_an_mlflow_model(bundled_dir, state_root):
    import mlflow

    from fer_lab.inference.bundled import bundled_mlflow_model
    from fer_lab.inference.serving import load_metadata

    folder = bundled_mlflow_model(state_root / ".cache")
    assert bundled_mlflow_model(state_root / ".cache") == folder
    assert load_metadata(str(folder)).face_margin == load_metadata("bundled").face_margin == 0.05
    probs = mlflow.pyfunc.load_model(str(folder)).predict(faces(2).astype("float32"))
    assert np.asarray(probs).shape == (2, len(EMOTIONS))


def test_a_missing_bundled_model_is_one_clear_error(tmp_path, monkeypatch):
    from fer_lab import EmotionRecognizer
    from fer_lab.inference import bundled

    monkeypatch.setattr(bundled, "BUNDLED_DIR", tmp_path / "nothing")
    with pytest.raises(FerLabError, match=r"no bundled model in .*nothing"):
        EmotionRecognizer.from_uri("bundled")


def test_the_bundled_file_keeps_the_weights_not_the_optimizer_state(tmp_path):
    import zipfile

    import keras

    from fer_lab.inference.bundled import bundled_model, write_bundled_model
    from fer_lab.tracking.model_io import ModelMetadata

    model = tiny_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(faces(2).astype("float32"), np.array([0, 1]), verbose=0)
    write_bundled_model(model, ModelMetadata(EMOTIONS, 48, 0.0, "tiny"), {}, tmp_path)
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert b"optimizer" not in archive.read("model.weights.h5")
    reloaded = bundled_model(tmp_path)
    np.testing.assert_allclose(
        keras.saving.load_model(reloaded.model_file).predict(faces(2), verbose=0),
        model.predict(faces(2), verbose=0),
        atol=1e-6,
    )


def test_the_shipped_model_is_small_and_carded():
    from fer_lab.inference.bundled import BUNDLED_DIR, bundled_model

    shipped = bundled_model(BUNDLED_DIR)
    assert shipped.model_file.stat().st_size <= 8 * 2**20
    assert shipped.card["tta"] == "crops" and shipped.card["test_accuracy"] >= 0.67
    assert (BUNDLED_DIR / "MODEL_CARD.md").read_text().count(shipped.card["commit"]) == 1


def test_evaluate_checks_the_bundled_models_validation_rows_from_its_card(bundled_dir):
    from types import SimpleNamespace

    from fer_lab.evaluation.held_out import require_honest_split

    def split(name, fingerprint):
        return SimpleNamespace(name=name, origin="rows", fingerprint=lambda: fingerprint)

    assert require_honest_split(split("val", "f00d"), "bundled", None, None) is None
    with pytest.raises(FerLabError, match="bundled was validated on other rows"):
        require_honest_split(split("val", "beef"), "bundled", None, None)
    with pytest.raises(FerLabError, match="holds exactly the rows bundled was validated on"):
        require_honest_split(split("test", "f00d"), "bundled", None, None)
