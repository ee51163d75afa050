"""Export of models whose augmentation layers must stay off: ONNX run in onnxruntime, SavedModel and TFLite,
each against Keras; a tiny saved model and the bundled one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS

MISSING = "format=onnx needs pip install -e '.[onnx]' (make install includes it)"


@pytest.fixture(scope="module")
def onnxruntime():
    """The onnxruntime module; skips the test without the onnx extra."""
    pytest.importorskip("tf2onnx", reason=MISSING)
    pytest.importorskip("onnx", reason=MISSING)
    return pytest.importorskip("onnxruntime", reason=MISSING)


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory, compose_train) -> Path:
    """cnn_tiny with every augmentation layer (augmentation=heavy) and an input crop, saved as a .keras file."""
    import keras

    from fer_lab.models import build_model

    keras.utils.set_random_seed(0)
    cfg = compose_train("model=cnn_tiny", "augmentation=heavy", "model.input_crop=44")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_model(cfg.model, cfg.augmentation, (48, 48, 1), len(EMOTIONS)).save(path)
    return path


def faces(n: int = 5) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, 48, 48, 1)).astype("float32")


def run_onnx(onnxruntime, path: Path, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    return session.run(None, {"pixels": x})[0]


def export(compose_train, *overrides: str) -> tuple[Path, float]:
    from fer_lab.export import run

    return run(compose_train(*overrides, config_name="export"))


def test_onnx_export_of_a_saved_model_runs_in_onnxruntime_like_keras(onnxruntime, tiny_keras, tmp_path, compose_train):
    import keras

    output, diff = export(compose_train, "format=onnx", f"model_uri={tiny_keras}", f"output={tmp_path / 'tiny.onnx'}")
    assert output == tmp_path / "tiny.onnx" and diff <= 1e-4
    meta = json.loads(Path(f"{output}.json").read_text())
    assert meta["format"] == "onnx" and meta["class_names"] == list(EMOTIONS)
    expected = keras.saving.load_model(tiny_keras, compile=False).predict(faces(), verbose=0)
    np.testing.assert_allclose(run_onnx(onnxruntime, output, faces()), expected, atol=1e-5)


def test_bundled_model_exports_to_onnx(onnxruntime, state_root, compose_train):
    from fer_lab import EmotionRecognizer
    from fer_lab.tracking.model_io import apply_temperature

    output, diff = export(compose_train, "format=onnx", "model_uri=bundled")
    assert output == state_root / "exports" / "bundled.onnx" and diff <= 1e-4
    sidecar = json.loads(Path(f"{output}.json").read_text())
    assert sidecar["source"] == "bundled"
    assert sidecar["tta"] == "none" and sidecar["temperatures"]["none"] != 1.0
    served = EmotionRecognizer.from_uri("bundled", tta="none").predict_proba(faces())  # at the sidecar's temperature
    calibrated = apply_temperature(run_onnx(onnxruntime, output, faces()), sidecar["temperatures"]["none"])
    np.testing.assert_allclose(calibrated, served, atol=1e-5)


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_other_formats_leave_augmentation_off_too(fmt, tiny_keras, tmp_path, compose_train):
    suffix = {"savedmodel": "_savedmodel", "tflite": ".tflite"}[fmt]
    _, diff = export(compose_train, f"format={fmt}", f"model_uri={tiny_keras}", f"output={tmp_path / 'tiny'}{suffix}")
    assert diff <= 1e-4


def test_a_model_onnx_cannot_express_is_a_user_error(onnxruntime, tmp_path):
    import keras

    from fer_lab.inference.export import export_model

    class Shear(keras.layers.Layer):  # TF's ImageProjectiveTransformV3 at inference: no ONNX op
        def call(self, x):
            return keras.ops.image.affine_transform(x, keras.ops.convert_to_tensor([1, 0.1, 0, 0, 1, 0, 0, 0]))

    inputs = keras.Input((48, 48, 1), name="pixels")
    model = keras.Model(inputs, keras.layers.Dense(len(EMOTIONS))(keras.layers.Flatten()(Shear()(inputs))))
    with pytest.raises(FerLabError, match=r"cannot convert this model to ONNX .*use format=savedmodel\|tflite"):
        export_model(model, "onnx", tmp_path / "shear.onnx")


@pytest.mark.parametrize(
    "setting,expected",
    [
        ("check_images=1.7", "check_images=1.7: expected a whole number from 1 to 10000"),
        ("check_images=1000000000", "expected a whole number from 1 to 10000"),
        ("tolerance=nan", "tolerance=nan: expected a number >= 0"),
        ("tolerance=abc", "tolerance='abc': expected a number >= 0"),
    ],
)
def test_bad_export_settings_are_one_clear_message(tiny_bundled, run_module, setting, expected):
    result = run_module("fer_lab.export", "model_uri=bundled", setting)
    assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr


def test_an_export_that_fails_its_check_is_not_left_behind(onnxruntime, tiny_bundled, tmp_path, run_module):
    output = tmp_path / "m.onnx"
    result = run_module("fer_lab.export", "model_uri=bundled", "format=onnx", f"output={output}", "tolerance=0")
    assert result.returncode == 2 and "disagrees with the Keras model" in result.stderr
    assert not output.exists() and not Path(f"{output}.json").exists()
