"""The browser app's HTTP and WebSocket API (FastAPI TestClient) and its command line, on a tiny model."""

from __future__ import annotations

import csv
import io
import json
import socket

import cv2
import numpy as np
import pytest
from conftest import BROWSER

from fer_lab.labels import EMOTIONS


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


@pytest.fixture(scope="module")
def portrait() -> bytes:
    from fer_lab.app.harness import face_photo

    return jpeg(face_photo())


@pytest.fixture(scope="module")
def fer_crop() -> bytes:
    from fer_lab.app.harness import face_crop

    return cv2.imencode(".png", face_crop())[1].tobytes()


def test_the_page_and_its_files_are_served(make_client):
    client = make_client()
    page = client.get("/")
    assert page.status_code == 200 and 'id="message"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/app.css").status_code == 200


def test_models_name_the_serving_model_and_its_accuracy(make_client):
    info = make_client().get("/api/models").json()
    assert info["serving"]["uri"] == "bundled" and info["serving"]["val_accuracy"] == 0.51
    assert info["serving"]["test_accuracy"] == 0.49 and "tiny" in info["serving"]["name"]
    assert [m["uri"] for m in info["models"]] == ["bundled"]
    assert info["settings"] == {"detector": "haar", "tta": "none", "smoothing": 0.0}
    assert info["limits_mb"] == {"frame": 5, "image": 20, "video": 200}


def test_switching_models_and_an_unknown_model_keeps_the_old_one(make_client, tiny_bundled):
    start = str(tiny_bundled / "model.keras")
    client = make_client(start)
    assert [m["uri"] for m in client.get("/api/models").json()["models"]] == ["bundled", start]
    switched = client.post("/api/model", json={"uri": "bundled"})
    assert switched.status_code == 200 and switched.json()["serving"]["uri"] == "bundled"
    unknown = client.post("/api/model", json={"uri": "models:/nope@champion"})
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("unknown model 'models:/nope@champion': pick one of bundled, ")
    assert client.get("/api/models").json()["serving"]["uri"] == "bundled"
    assert client.post("/api/model", json={}).status_code == 400


def test_an_image_with_a_face_gets_its_emotions(make_client, portrait):
    result = make_client().post("/api/image", files={"file": ("hopper.jpg", portrait, "image/jpeg")}).json()
    assert (result["width"], result["height"]) == (512, 600) and "message" not in result and not result["whole_image"]
    face = result["faces"][0]
    assert face["label"] in EMOTIONS and list(face["probabilities"]) == list(EMOTIONS)
    assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert face["box"]["w"] > 100 and result["server_ms"] > 0


def test_a_face_crop_is_scored_whole_when_ticked_or_when_small_and_faceless(make_client, fer_crop):
    client = make_client()
    crop = {"file": ("fer.png", fer_crop, "image/png")}
    ticked = client.post("/api/image", files=crop, data={"face_crop": "true"}).json()
    assert (ticked["width"], ticked["height"], ticked["whole_image"]) == (48, 48, True) and "message" not in ticked
    [face] = ticked["faces"]
    assert face["box"] == {"x": 0, "y": 0, "w": 48, "h": 48, "score": 1.0} and face["label"] in EMOTIONS
    small = client.post("/api/image", files=crop).json()
    assert small["whole_image"] is True and small["faces"] == ticked["faces"]
    assert small["message"] == "no face detected: the whole image was scored as a face crop"


def test_image_errors_are_clear(make_client):
    client = make_client()
    text = client.post("/api/image", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert text.status_code == 400 and "not a JPEG, PNG, BMP or WebP image" in text.json()["error"]
    wall = {"file": ("wall.png", cv2.imencode(".png", np.full((240, 320), 128, np.uint8))[1].tobytes())}
    blank = client.post("/api/image", files=wall, data={"face_crop": "false"})
    assert blank.status_code == 200 and blank.json()["faces"] == [] and blank.json()["whole_image"] is False
    assert blank.json()["message"] == (
        "no face found: if the image is a face crop, tick 'The image is a face crop' (face_crop=true)"
    )
    bad_switch = client.post("/api/image", files=wall, data={"face_crop": "yes"})
    assert bad_switch.status_code == 400 and bad_switch.json()["error"] == (
        "face_crop 'yes' must be true or false (true: the image is one face, scored whole)"
    )
    missing = client.post("/api/image", data={"tta": "none"})
    assert missing.status_code == 400 and "field named 'file'" in missing.json()["error"]
    bad_tta = client.post("/api/image", files={"file": ("a.png", b"x")}, data={"tta": "twice"})
    assert bad_tta.status_code == 400 and "unknown tta 'twice'" in bad_tta.json()["error"]
    tta_file = client.post("/api/image", files={"file": ("a.png", b"x"), "tta": ("tta.txt", b"flip")})
    assert tta_file.status_code == 400 and tta_file.json()["error"].startswith(
        "the image upload has more than one file"
    )
    bad_smoothing = client.post("/api/video", files={"file": ("a.mp4", b"x")}, data={"smoothing": "lots"})
    assert bad_smoothing.status_code == 400 and "smoothing 'lots' must be a number" in bad_smoothing.json()["error"]


def test_a_video_job_writes_an_annotated_video_and_a_csv(make_client, tmp_path):
    from fer_lab.app.harness import face_frames, write_mp4

    path = write_mp4(tmp_path / "clip.mp4", face_frames(4, (320, 240)))
    client = make_client()
    job = client.post(
        "/api/video", files={"file": ("clip.mp4", path.read_bytes(), "video/mp4")}, data={"smoothing": "0.5"}
    ).json()
    assert job["frames"] == 4 and job["faces"] == 4
    video = client.get(job["video"])
    assert video.status_code == 200 and len(video.content) > 1000
    rows = list(csv.DictReader(io.StringIO(client.get(job["csv"]).text)))
    assert len(rows) == 4 and rows[0]["label"] in EMOTIONS
    assert client.get(job["csv"].replace(job["job"], "0" * 32)).status_code == 404
    assert client.get(f"/api/jobs/{job['job']}/..%2Fetc").status_code == 404


def test_an_undecodable_video_is_a_clear_400(make_client):
    client = make_client()
    answer = client.post("/api/video", files={"file": ("clip.mp4", b"no video here" * 100, "video/mp4")})
    assert answer.status_code == 400
    assert answer.json()["error"] == "the video is not an MP4, MOV, WebM, MKV or AVI file: send one of those"
    damaged = client.post("/api/video", files={"file": ("clip.mp4", b"\0\0\0\x18ftypmp42" + b"\0" * 500)})
    assert damaged.status_code == 400
    assert damaged.json()["error"].startswith("cannot read video upload.mp4: not a video OpenCV can decode")


def test_uploads_over_the_limits_get_413(make_client, portrait):
    from fer_lab.app.serving import Limits

    client = make_client(limits=Limits(frame=1000, image=1000, video=1000))
    image = client.post("/api/image", files={"file": ("hopper.jpg", portrait, "image/jpeg")})
    assert image.status_code == 413 and "over the 0.000953674 MB limit" in image.json()["error"]
    video = client.post("/api/video", files={"file": ("clip.mp4", b"0" * 200_000, "video/mp4")})
    assert video.status_code == 413 and video.json()["error"].startswith("the video is 0.2 MB, over the")
    with client.websocket_connect("/ws", headers=BROWSER) as ws:
        ws.send_bytes(portrait)
        answer = ws.receive_json()
    assert answer["frame"] == 1 and "over the" in answer["error"] and "faces" not in answer


def test_websocket_settings_and_frames_round_trip(make_client):
    from fer_lab.app.harness import face_frames

    frames = face_frames(3)
    with make_client().websocket_connect("/ws", headers=BROWSER) as ws:
        ws.send_text(json.dumps({"tta": "flip", "smoothing": 0.5}))
        assert ws.receive_json() == {"settings": {"tta": "flip", "smoothing": 0.5, "uncertain_below": 0.0}}
        ws.send_text(json.dumps({"tta": "sideways"}))
        assert "unknown tta 'sideways'" in ws.receive_json()["error"]
        for i, frame in enumerate(frames, 1):
            ws.send_bytes(jpeg(frame))
            answer = ws.receive_json()
            assert answer["frame"] == i and (answer["width"], answer["height"]) == (640, 480)
            assert len(answer["faces"]) == 1 and answer["faces"][0]["label"] in EMOTIONS
        ws.send_bytes(b"garbage")
        assert "not a JPEG, PNG, BMP or WebP image" in ws.receive_json()["error"]


def test_the_command_line_reports_bad_input_in_one_line(tiny_bundled, tmp_path, capsys):
    from fer_lab.app.__main__ import main

    def fails(*argv: str) -> str:
        with pytest.raises(SystemExit) as exit_:
            main(list(argv))
        assert exit_.value.code == 2
        return capsys.readouterr().err

    assert "pass both --certfile and --keyfile" in fails("--certfile", "cert.pem")
    assert f"--certfile {tmp_path}/c.pem not found; make a self-signed pair with `openssl req" in fails(
        "--certfile", f"{tmp_path}/c.pem", "--keyfile", f"{tmp_path}/k.pem"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert f"port {port} on 127.0.0.1 is in use" in fails("--port", str(port))
    error = fails("--port", str(port), "--model", f"{tmp_path}/missing.keras")  # the port is free again
    assert f"model file {tmp_path}/missing.keras not found" in error and "Traceback" not in error


def test_the_champion_serves_by_default_with_its_version_aliases_and_run_accuracy(make_client, tiny_bundled):
    import keras
    import mlflow
    from mlflow import MlflowClient

    from fer_lab.inference.catalog import default_model_uri
    from fer_lab.tracking.model_io import ModelMetadata, log_keras_model
    from fer_lab.tracking.runs import ensure_experiment
    from fer_lab.tracking.uri import configure_tracking

    model = keras.saving.load_model(tiny_bundled / "model.keras", compile=False)
    with mlflow.start_run(experiment_id=ensure_experiment("test", configure_tracking(None))):
        mlflow.log_metrics({"val_accuracy": 0.6, "test_accuracy": 0.58})
        logged = log_keras_model(
            model,
            ModelMetadata(EMOTIONS, 48, 0.0, "tiny"),
            np.zeros((1, 48, 48, 1), "uint8"),
            registered_name="fer_lab",
        )
    MlflowClient().set_registered_model_alias("fer_lab", "champion", logged.registered_model_version)

    client = make_client(default_model_uri())
    info = client.get("/api/models").json()
    serving = info["serving"]
    assert (serving["uri"], serving["version"], serving["aliases"]) == ("models:/fer_lab@champion", "1", ["champion"])
    assert (serving["val_accuracy"], serving["test_accuracy"]) == (0.6, 0.58)
    assert [m["uri"] for m in info["models"]] == ["bundled", "models:/fer_lab/1", "models:/fer_lab@champion"]
    assert client.post("/api/model", json={"uri": "models:/fer_lab/1"}).json()["serving"]["version"] == "1"
