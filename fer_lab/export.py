"""`python -m fer_lab.export format=savedmodel|tflite|onnx`: export a logged model and check its predictions.

The export takes the same raw 0..255 pixels (N, S, S, 1) as the Keras model; the class names, image
size and face margin it needs are written to <output>.json beside it.
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

import fer_lab.extensions  # noqa: F401  (every extension point's config schema; the fer_lab_root resolver)

from fer_lab.config import require
from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.inference.recognizer import EmotionRecognizer
from fer_lab.paths import project_root

FORMATS = {"savedmodel": ("tf_saved_model", "_savedmodel"), "tflite": ("litert", ".tflite"),
           "onnx": ("onnx", ".onnx")}
"""Our format name -> (keras export format, output suffix)."""
ONNX_PACKAGES = ("tf2onnx", "onnx", "onnxruntime")


def export_model(model, fmt: str, output: Path) -> Path:
    """Write `model` to `output` in format `fmt` (savedmodel: a folder; tflite, onnx: a file)."""
    require(fmt in FORMATS, "format", fmt, " | ".join(FORMATS))
    if fmt == "onnx":
        missing = [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None]
        if missing:
            raise FerLabError(f"format=onnx needs the packages {', '.join(missing)}, which are not installed: "
                              f"`.venv/bin/pip install {' '.join(missing)}` (or use format=savedmodel|tflite)")
    output.parent.mkdir(parents=True, exist_ok=True)
    model.export(str(output), format=FORMATS[fmt][0], verbose=False)
    return output


def predict_exported(fmt: str, output: Path, x: np.ndarray) -> np.ndarray:
    """Probabilities of the exported model for raw-pixel images x (N, S, S, 1) float32."""
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(output))  # keep a reference: serve() needs its variables alive
        return loaded.serve(x).numpy()
    if fmt == "tflite":
        interpreter = _tflite_interpreter(output)
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        interpreter.resize_tensor_input(inp["index"], x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])
    import onnxruntime

    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def check_export(recognizer: EmotionRecognizer, fmt: str, output: Path, n: int, tolerance: float) -> float:
    """Largest |probability difference| between the export and Keras on n random images; raises if > tolerance."""
    size = recognizer.image_size
    x = np.random.default_rng(0).integers(0, 256, (n, size, size, 1)).astype("float32")
    diff = float(np.max(np.abs(predict_exported(fmt, output, x) - recognizer.predict_proba(x))))
    if not diff <= tolerance:
        raise FerLabError(f"the {fmt} export {output} disagrees with the Keras model: max probability "
                          f"difference {diff:.2e} > tolerance {tolerance:g}. Do not use it; report the model "
                          "name and format (a layer may convert badly), or raise tolerance=... if acceptable")
    return diff


def default_output(uri: str, fmt: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", re.sub(r"^\w+:/+", "", uri)).strip("-")
    return project_root() / "exports" / f"{slug}{FORMATS[fmt][1]}"


def run(cfg: DictConfig) -> tuple[Path, float]:
    """Export the configured model and check it; returns (export path, max probability difference)."""
    fmt = str(cfg.format)
    require(fmt in FORMATS, "format", fmt, " | ".join(FORMATS))
    require(int(cfg.check_images) >= 1, "check_images", cfg.check_images, "an integer >= 1")
    uri = str(cfg.model_uri)
    output = Path(cfg.output) if cfg.get("output") else default_output(uri, fmt)
    suffix = FORMATS[fmt][1]
    require(fmt == "savedmodel" or output.suffix == suffix, "output", cfg.output,
            f"a file path ending in {suffix} for format={fmt} (or null for exports/<model>{suffix})")
    recognizer = EmotionRecognizer.from_uri(uri, tracking_uri=cfg.mlflow.get("tracking_uri"))
    export_model(recognizer.model, fmt, output)
    diff = check_export(recognizer, fmt, output, int(cfg.check_images), float(cfg.tolerance))
    sidecar = {**recognizer.metadata.to_dict(), "source": uri, "format": fmt,
               "input": f"float32 (N, {recognizer.image_size}, {recognizer.image_size}, 1) raw pixels 0..255"}
    Path(f"{output}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return output, diff


@hydra.main(version_base="1.3", config_path="../conf", config_name="export")
@report_user_errors
def main(cfg: DictConfig) -> None:
    output, diff = run(cfg)
    print(f"fer_lab: exported {cfg.format} to {output} (metadata: {output}.json); check on "
          f"{cfg.check_images} images: max probability difference {diff:.1e} <= {cfg.tolerance:g}")


def _tflite_interpreter(path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TF's own interpreter, deprecated in favour of ai_edge_litert but still working
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_path=str(path))


if __name__ == "__main__":
    main()
