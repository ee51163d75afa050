"""EmotionRecognizer on a local model, face detection and cropping, smoothing, lazy import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lab.errors import FerLabError
from fer_lab.inference.detectors import DETECTORS, detector_from_config, make_detector
from fer_lab.inference.faces import Box, crop_faces
from fer_lab.inference.smoothing import FaceSmoother
from fer_lab.labels import EMOTIONS

REAL_FACES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013" / "test"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def rec(model_file):
    from fer_lab import EmotionRecognizer

    return EmotionRecognizer.from_file(model_file, detector=make_detector("skip"))


def test_predict_takes_one_or_many_faces_of_any_size_and_colour(rec):
    rng = np.random.default_rng(0)
    gray, bgr = rng.integers(0, 256, (96, 80), dtype=np.uint8), rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
    assert len(rec.predict(gray)) == 1 and len(rec.predict(bgr)) == 1
    batch = rng.integers(0, 256, (5, 48, 48, 1)).astype("float32")
    preds = rec.predict(batch)
    assert len(preds) == 5 and len(rec.predict(batch[..., 0])) == 5
    np.testing.assert_allclose(
        [p.probabilities["happy"] for p in preds],
        rec.model.predict(batch, verbose=0)[:, EMOTIONS.index("happy")],
        atol=1e-5,
    )
    assert rec.predict([]) == []
    assert rec.predict_proba(np.zeros((300, 48, 48, 1))).shape == (300, 7)


def test_tta_modes_average_the_views_evaluate_uses(model_file):
    from fer_lab import EmotionRecognizer
    from fer_lab.evaluation.tta import predict_with_tta

    x = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 1)).astype("float32")
    flip = EmotionRecognizer.from_file(model_file, tta="flip")
    expected = (flip.model.predict(x, verbose=0) + flip.model.predict(x[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(flip.predict_proba(x), expected, atol=1e-5)
    crops = EmotionRecognizer.from_file(model_file, tta="crops")
    np.testing.assert_allclose(crops.predict_proba(x), predict_with_tta(crops.model, x, "crops"), atol=1e-5)
    with pytest.raises(FerLabError, match="tta='ten'"):
        EmotionRecognizer.from_file(model_file, tta="ten")


def test_input_size_mismatch_is_a_clear_error(model_file):
    from fer_lab import EmotionRecognizer

    with pytest.raises(FerLabError, match=r"expects input \(48, 48, 1\).*64x64"):
        EmotionRecognizer.from_file(model_file, image_size=64)
    with pytest.raises(FerLabError, match="7 outputs but 8 class names"):
        EmotionRecognizer.from_file(model_file, class_names=(*EMOTIONS, "contempt"))
    with pytest.raises(FerLabError, match="not found"):
        EmotionRecognizer.from_file(model_file.with_name("missing.keras"))


def test_detect_and_predict_returns_boxes_largest_first(rec):
    frame = np.zeros((120, 160, 3), np.uint8)
    (face,) = rec.detect_and_predict(frame)
    assert face.box == Box(0, 0, 160, 120) and face.label in EMOTIONS


def test_crop_is_square_with_margin_and_pads_at_the_border():
    gray = np.arange(100 * 100, dtype=np.float32).reshape(100, 100) % 256
    crops = crop_faces(gray.astype(np.uint8), [Box(10, 10, 40, 20), Box(80, 80, 30, 30)], size=48, margin=0.25)
    assert crops.shape == (2, 48, 48, 1) and crops.dtype == np.float32
    assert crops.min() >= 0 and crops.max() <= 255
    exact = crop_faces(gray.astype(np.uint8), [Box(0, 0, 48, 48)], size=48)
    np.testing.assert_array_equal(exact[0, :, :, 0], gray[:48, :48].astype(np.uint8))


def test_detector_choices_and_errors(tmp_path):
    assert make_detector("auto").name == "haar"
    assert make_detector("auto", yunet_model=str(tmp_path / "none.onnx")).name == "haar"
    with pytest.raises(FerLabError, match="yunet_model"):
        make_detector("yunet")
    with pytest.raises(FerLabError, match="not found"):
        make_detector("yunet", yunet_model=str(tmp_path / "none.onnx"))
    with pytest.raises(FerLabError, match=r"unknown detector.name='dlib': choose one of auto \| haar \| mtcnn"):
        make_detector("dlib")
    with pytest.raises(FerLabError, match=r"detector\.min_neighbors"):
        make_detector("haar", min_neighbors="many")
    assert make_detector("haar")(None, np.full((480, 640), 128, np.uint8)) == []
    assert make_detector("haar", min_face=0.2, detect_width=0).min_face == 0.2


def test_a_new_detector_is_a_registered_factory_with_its_schema(compose_train, monkeypatch):
    """What a new module of fer_lab.inference.detectors does; conf/detector/*.yaml compose typed."""
    from dataclasses import dataclass

    from fer_lab.inference.detectors import DetectorConfig

    @dataclass
    class CentreConfig(DetectorConfig):
        fraction: float = 0.5

    monkeypatch.setattr(DETECTORS, "_entries", dict(DETECTORS._entries))  # registered for this test only

    @DETECTORS.register("centre_test", CentreConfig)
    def centre(cfg):
        def detect(frame, gray):
            h, w = gray.shape[:2]
            side = int(min(h, w) * cfg.fraction)
            return [Box((w - side) // 2, (h - side) // 2, side, side)]

        return detect

    detector = detector_from_config({"name": "centre_test", "fraction": 0.25})
    assert detector(None, np.zeros((100, 200), np.uint8)) == [Box(87, 37, 25, 25)]
    cfg = compose_train("detector=skip", config_name="live")
    assert set(cfg.detector) == set(DETECTORS.config({"name": "skip"})) and cfg.detector.name == "skip"
    with pytest.raises(Exception, match="min_neighbors"):
        compose_train("detector=haar", "detector.min_neighbors=many", config_name="live")


def test_every_detector_has_a_yaml_that_composes_typed(compose_train):
    from fer_lab.paths import CONF_DIR

    names = sorted(p.stem for p in (CONF_DIR / "detector").glob("*.yaml"))
    assert names == sorted(DETECTORS.names())
    for name in names:
        cfg = compose_train(f"detector={name}", config_name="live").detector
        assert cfg.name == name and cfg.detect_width == 320


def test_smoother_follows_faces_and_averages():
    smoother = FaceSmoother(strength=0.5)
    ids, p = smoother.update([Box(0, 0, 50, 50)], np.array([[1.0, 0.0]]))
    assert ids == [0]
    ids, p = smoother.update([Box(200, 0, 50, 50), Box(2, 2, 50, 50)], np.array([[0.0, 1.0], [0.0, 1.0]]))
    assert ids == [1, 0]
    np.testing.assert_allclose(p, [[0.0, 1.0], [0.5, 0.5]])
    assert smoother.update([], np.zeros((0, 2)))[1].shape == (0, 2)


def test_importing_fer_lab_stays_light():
    code = (
        "import sys, fer_lab; assert 'keras' not in sys.modules and 'cv2' not in sys.modules; "
        "print(fer_lab.EmotionRecognizer.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "EmotionRecognizer"


def real_face_frame() -> np.ndarray:
    """A 640x480 frame with the first FER test face (upscaled to 200 px) that the Haar cascade finds."""
    detector = make_detector("haar")
    for path in sorted(REAL_FACES.glob("*/*.jpg"))[:200]:
        frame = np.full((480, 640), 120, np.uint8)
        frame[140:340, 220:420] = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (200, 200))
        if detector(None, frame):
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    raise AssertionError("the Haar cascade found none of the first 200 FER test faces")


@pytest.mark.slow
@pytest.mark.skipif(not REAL_FACES.is_dir(), reason="needs ../shared/data/fer2013")
def test_haar_finds_a_real_fer_face(rec):
    from fer_lab import EmotionRecognizer

    haar = EmotionRecognizer(rec.model, rec.metadata, detector=make_detector("haar"))
    (face,) = haar.detect_and_predict(real_face_frame())
    assert abs(face.box.x + face.box.w / 2 - 320) < 40 and abs(face.box.y + face.box.h / 2 - 240) < 40
    assert 100 < face.box.w < 260


def test_mtcnn_finds_no_face_in_a_plain_frame_and_reads_its_settings():
    detector = make_detector("mtcnn", min_confidence=0.95, detect_width=0)
    assert (detector.min_confidence, detector.detect_width) == (0.95, 0)
    assert detector(np.full((480, 640, 3), 120, np.uint8), np.full((480, 640), 120, np.uint8)) == []
    with pytest.raises(FerLabError, match=r"detector\.min_confidence"):
        make_detector("mtcnn", min_confidence="high")


@pytest.mark.slow
@pytest.mark.skipif(not REAL_FACES.is_dir(), reason="needs ../shared/data/fer2013")
def test_mtcnn_finds_a_real_fer_face_with_its_score():
    (box,) = make_detector("mtcnn")(frame := real_face_frame(), cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    assert abs(box.x + box.w / 2 - 320) < 40 and abs(box.y + box.h / 2 - 240) < 40
    assert 100 < box.w < 260 and box.score >= 0.9
