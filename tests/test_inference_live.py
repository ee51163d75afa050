"""fer_lab.live headless on a video the test writes: annotated video, per-face CSV, clear input errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_lab.errors import FerLabError
from fer_lab.inference.faces import Box
from fer_lab.inference.video import gui_problem
from fer_lab.labels import EMOTIONS

FRAMES = 8
FACES = [Box(100, 140, 160, 160), Box(400, 120, 120, 120)]


def draw_face(frame: np.ndarray, box: Box, mood: int) -> None:
    """A face-like drawing: head, eyes and a mouth that smiles more with `mood`."""
    centre = (box.x + box.w // 2, box.y + box.h // 2)
    cv2.ellipse(frame, centre, (box.w // 2 - 8, box.h // 2 - 2), 0, 0, 360, (170, 190, 220), -1)
    for dx in (-box.w // 5, box.w // 5):
        cv2.circle(frame, (centre[0] + dx, centre[1] - box.h // 8), box.w // 14, (40, 40, 40), -1)
    mouth = (centre[0], centre[1] + box.h // 5)
    cv2.ellipse(frame, mouth, (box.w // 5, 4 + mood * 3), 0, 0, 180, (60, 60, 140), 3)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "faces.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 480))
    rng = np.random.default_rng(0)
    for i in range(FRAMES):
        frame = rng.integers(60, 90, (480, 640, 3), dtype=np.uint8)
        for box in FACES:
            draw_face(frame, box, i % 4)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(keras.layers.Rescaling(1 / 255)(inputs)))
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x)).save(path)
    return path


class FixedFaces:
    """A detector that always finds the faces drawn into the test video."""

    name = "fixed"

    def __call__(self, frame, gray):
        return list(FACES)


def test_headless_run_writes_annotated_video_and_one_csv_row_per_face(video, model_file, tmp_path, compose_train):
    from fer_lab import EmotionRecognizer
    from fer_lab.live import run

    cfg = compose_train(
        f"source={video}",
        f"output={tmp_path}/out/annotated.mp4",
        f"csv={tmp_path}/faces.csv",
        "display=false",
        "smoothing=0.6",
        config_name="live",
    )
    summary = run(cfg, EmotionRecognizer.from_file(model_file, detector=FixedFaces()))
    assert (summary.frames, summary.faces) == (FRAMES, 2 * FRAMES)

    capture = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    ok, frame = capture.read()
    assert ok and frame.shape == (480, 640, 3)

    table = pd.read_csv(tmp_path / "faces.csv")
    assert len(table) == 2 * FRAMES
    assert list(table.columns[:10]) == ["frame", "time_s", "face", "track", "x", "y", "w", "h", "label", "confidence"]
    assert table.groupby("frame").size().tolist() == [2] * FRAMES
    assert table["track"].tolist() == [0, 1] * FRAMES
    assert table["time_s"].iloc[-1] == pytest.approx((FRAMES - 1) / 10.0)
    probs = table[[f"p_{c}" for c in EMOTIONS]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert set(table["label"]) <= set(EMOTIONS)


def test_configured_model_and_skip_detector_give_one_face_per_frame(video, model_file, tmp_path, compose_train):
    from fer_lab.live import run

    cfg = compose_train(
        f"source={video}",
        f"model_uri={model_file}",
        "detector=skip",
        f"csv={tmp_path}/f.csv",
        "display=false",
        "max_frames=3",
        "tta=crops",
        config_name="live",
    )
    assert cfg.detector.name == "skip" and cfg.detector.detect_width == 320
    assert run(cfg).frames == 3
    table = pd.read_csv(tmp_path / "f.csv")
    assert len(table) == 3 and (table["w"] == 640).all() and (table["h"] == 480).all()


@pytest.mark.parametrize(
    "source, message",
    [
        ("missing.mp4", "video file missing.mp4 not found"),
        ("NOT_A_VIDEO", "cannot read video"),
        (7, "cannot open camera 7"),
    ],
)
def test_bad_sources_are_clear_errors(source, message, tmp_path, compose_train):
    from fer_lab.live import run

    if source == "NOT_A_VIDEO":
        source = tmp_path / "broken.mp4"
        source.write_text("this is not a video")
    cfg = compose_train(f"source={source}", "display=false", f"csv={tmp_path}/x.csv", config_name="live")
    with pytest.raises(FerLabError, match=message):
        run(cfg)


def test_display_without_a_gui_explains_how_to_get_one(video, tmp_path, compose_train):
    from fer_lab.live import run

    if gui_problem() is None:
        pytest.skip("this machine can open windows")
    with pytest.raises(FerLabError, match=r"cannot open a window.*display=false"):
        run(compose_train(f"source={video}", "display=true", config_name="live"))
    with pytest.raises(FerLabError, match="nothing to show or write"):
        run(compose_train(f"source={video}", config_name="live"))


def test_cli_reports_a_missing_video_without_traceback(tmp_path, run_module, monkeypatch):
    monkeypatch.setenv("FER_LAB_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    done = run_module("fer_lab.live", "source=nope.mp4", "csv=out.csv")
    assert done.returncode == 2
    assert "fer_lab: error: video file nope.mp4 not found" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]
