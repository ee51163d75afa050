"""Inference from the registry: champion loading, predict CLI, export round trip, serving payload."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lab.config import REGISTERED_MODEL_NAME
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS

NAME = REGISTERED_MODEL_NAME  # the name every command defaults to


def tiny_model(size: int = 48):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(len(EMOTIONS), activation="softmax")(x))


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A tiny model logged by fer_lab, registered as `fer_lab` version 1 with alias champion."""
    import mlflow
    from mlflow import MlflowClient

    from fer_lab.tracking.model_io import ModelMetadata, log_keras_model
    from fer_lab.tracking.runs import ensure_experiment
    from fer_lab.tracking.uri import configure_tracking

    root = tmp_path_factory.mktemp("root")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_LAB_ROOT", str(root))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        experiment = ensure_experiment("test", configure_tracking(None))
        model = tiny_model()
        x = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 1)).astype("uint8")
        with mlflow.start_run(experiment_id=experiment) as run:
            info = log_keras_model(model, ModelMetadata(EMOTIONS, 48, 0.1, "tiny"), x, registered_name=NAME)
        MlflowClient().set_registered_model_alias(NAME, "champion", info.registered_model_version)
        yield {"root": root, "model": model, "run_id": run.info.run_id}


@pytest.fixture
def env(champion, monkeypatch):
    monkeypatch.setenv("FER_LAB_ROOT", str(champion["root"]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{champion['root']}/mlflow.db")
    return champion


def faces(n: int = 3) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, 48, 48, 1)).astype("uint8")


def test_champion_predicts_labels_and_all_probabilities(env):
    from fer_lab import EmotionRecognizer

    rec = EmotionRecognizer.from_registry()
    assert rec.metadata.face_margin == 0.1 and rec.class_names == EMOTIONS
    preds = rec.predict(faces())
    expected = env["model"].predict(faces().astype("float32"), verbose=0)
    assert len(preds) == 3
    for p, e in zip(preds, expected, strict=True):
        assert list(p.probabilities) == list(EMOTIONS)
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.label == EMOTIONS[int(np.argmax(e))] and p.confidence == pytest.approx(e.max(), abs=1e-5)


def test_versions_and_runs_load_too(env):
    from fer_lab import EmotionRecognizer

    for uri in (f"models:/{NAME}/1", f"runs:/{env['run_id']}/model"):
        assert EmotionRecognizer.from_uri(uri).image_size == 48


def test_missing_alias_says_how_to_fix(env):
    from fer_lab import EmotionRecognizer

    with pytest.raises(FerLabError, match=r"cannot load model models:/fer_lab@nope.*fer_lab\.train"):
        EmotionRecognizer.from_registry(alias="nope")


def write_images(folder: Path) -> None:
    folder.mkdir()
    for i, face in enumerate(faces(2)):
        cv2.imwrite(str(folder / f"face{i}.png"), face)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not an image: ignored in folders")


def test_predict_cli_reports_the_corrupt_file_and_predicts_the_others(env, tmp_path, capsys):
    from fer_lab.predict import main

    write_images(tmp_path / "imgs")
    status = main([str(tmp_path / "imgs"), "--format", "json", "--detector", "skip"])
    out, err = capsys.readouterr()
    results = {Path(r["file"]).name: r for r in json.loads(out)}
    assert status == 1
    assert set(results) == {"corrupt.jpg", "face0.png", "face1.png"}
    assert "cannot read image" in results["corrupt.jpg"]["error"] and "corrupt.jpg" in err
    face = results["face0.png"]["faces"][0]
    assert face["box"] == {"x": 0, "y": 0, "w": 48, "h": 48, "score": 1.0}
    assert face["label"] in EMOTIONS and len(face["probabilities"]) == 7


def test_predict_cli_table_csv_and_total_failure(env, tmp_path, capsys):
    from fer_lab.predict import main

    write_images(tmp_path / "imgs")
    assert main([str(tmp_path / "imgs" / "face0.png"), "--detector", "skip", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("file,face,x,y,w,h,label,confidence,angry") and len(lines) == 2
    assert main([str(tmp_path / "imgs"), "--detector", "skip", "--tta", "flip"]) == 1
    assert "error:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "imgs" / "corrupt.jpg"), str(tmp_path / "missing.png"), "--detector", "skip"])
    assert exit_info.value.code == 2
    assert "missing.png: file or folder not found" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "onnx"])
def test_export_round_trip_matches_keras(env, fmt, compose_train):
    from fer_lab.export import run
    from fer_lab.inference.export import ONNX_PACKAGES, predict_exported

    for package in ONNX_PACKAGES if fmt == "onnx" else ():
        pytest.importorskip(package, reason="format=onnx needs pip install -e '.[onnx]' (make install includes it)")
    cfg = compose_train(f"format={fmt}", config_name="export")
    output, diff = run(cfg)
    assert output.exists() and diff <= 1e-4
    meta = json.loads(Path(f"{output}.json").read_text())
    assert meta["image_size"] == 48 and meta["class_names"] == list(EMOTIONS)
    x = faces(4).astype("float32")
    np.testing.assert_allclose(predict_exported(fmt, output, x), env["model"].predict(x, verbose=0), atol=1e-4)


def test_export_file_without_the_format_suffix_is_a_config_error(tmp_path, compose_train):
    from fer_lab.export import run

    with pytest.raises(FerLabError, match=r"^invalid config value output=.*ending in \.tflite"):
        run(compose_train("format=tflite", f"output={tmp_path / 'champion'}", config_name="export"))


def test_onnx_export_without_its_packages_names_them(env, compose_train, monkeypatch):
    import importlib.util

    from fer_lab.export import run

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FerLabError, match=r"missing: tf2onnx, onnx, onnxruntime\): run `pip install -e '\.\[onnx\]'`"):
        run(compose_train("format=onnx", config_name="export"))


def test_served_model_scores_the_request_payload(env):
    """What `make serve` runs: mlflow's scoring function on the champion, fed serve_request's payload."""
    import mlflow
    from mlflow.pyfunc.scoring_server import invocations

    from fer_lab import EmotionRecognizer
    from fer_lab.inference.serving import load_metadata, payload

    uri = f"models:/{NAME}@champion"
    model = mlflow.pyfunc.load_model(uri)
    assert load_metadata(uri).image_size == 48
    x = faces(2)
    response = invocations(json.dumps(payload(x)), "application/json", model, model.metadata.get_input_schema())
    assert response.status == 200, response.response
    probs = np.asarray(json.loads(response.response)["predictions"])
    np.testing.assert_allclose(probs, EmotionRecognizer.from_registry().predict_proba(x), atol=1e-5)


def test_serve_refuses_a_missing_alias_before_starting(env, capsys):
    from fer_lab.serve import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--model", f"models:/{NAME}@nope"])
    assert exit_info.value.code == 2
    assert "cannot read model models:/fer_lab@nope" in capsys.readouterr().err


class FakeScoringServer(BaseHTTPRequestHandler):
    """mlflow's scoring server as seen by a client: POST /invocations answers one probability row per face."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/invocations":
            self.send_error(404)
            return
        probs = np.eye(len(EMOTIONS))[[EMOTIONS.index("happy")] * len(body["inputs"])]
        answer = json.dumps({"predictions": probs.tolist()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def scoring_server():
    """The base URL of a FakeScoringServer on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeScoringServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("suffix", ["", "/", "/invocations", "/invocations/"])
def test_serve_request_takes_the_base_or_the_invocations_address(env, scoring_server, suffix, tmp_path, capsys):
    from fer_lab.serve_request import main

    image = tmp_path / "face.png"
    cv2.imwrite(str(image), faces(1)[0])
    main([str(image), "--detector", "skip", "--url", scoring_server + suffix])
    (face,) = json.loads(capsys.readouterr().out)["faces"]
    assert face["label"] == "happy" and face["confidence"] == 1.0 and face["box"] == {"x": 0, "y": 0, "w": 48, "h": 48}


def test_an_address_without_a_scoring_server_is_one_clear_message(scoring_server):
    from fer_lab.inference.serving import post

    with pytest.raises(
        FerLabError,
        match=r"^" + scoring_server + r"/score/invocations answered 404 Not Found: no "
        r"model server scores requests there\. Start one with `make serve`",
    ):
        post(f"{scoring_server}/score", {"inputs": []})
