"""Export a model to SavedModel, TFLite (LiteRT) or ONNX, check that the export predicts what Keras predicts,
and write the metadata it needs beside it (<output>.json)."""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from pathlib import Path

import numpy as np

from fer_lab.config import require
from fer_lab.errors import FerLabError
from fer_lab.inference.recognizer import EmotionRecognizer
from fer_lab.paths import project_root

FORMATS = {"savedmodel": ("tf_saved_model", "_savedmodel"), "tflite": ("litert", ".tflite"), "onnx": ("onnx", ".onnx")}
"""Our format name -> (keras export format, output suffix)."""
ONNX_PACKAGES = ("tf2onnx", "onnx", "onnxruntime")


def export_model(model, fmt: str, output: Path) -> Path:
    """Write `model` to `output` in format `fmt` (savedmodel: a folder; tflite, onnx: a file)."""
    require(fmt in FORMATS, "format", fmt, " | ".join(FORMATS))
    if fmt == "onnx":
        missing = [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None]
        if missing:
            raise FerLabError(
                f"format=onnx needs the packages {', '.join(missing)}, which are not installed: "
                f"`.venv/bin/pip install {' '.join(missing)}` (or use format=savedmodel|tflite)"
            )
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
        raise FerLabError(
            f"the {fmt} export {output} disagrees with the Keras model: max probability "
            f"difference {diff:.2e} > tolerance {tolerance:g}. Do not use it; report the model "
            "name and format (a layer may convert badly), or raise tolerance=... if acceptable"
        )
    return diff


def export_checked(
    recognizer: EmotionRecognizer, source: str, fmt: str, output: Path, check_images: int, tolerance: float
) -> float:
    """Export the model of `recognizer` (loaded from `source`), check it on `check_images` images and write
    <output>.json; returns the largest probability difference."""
    export_model(recognizer.model, fmt, output)
    diff = check_export(recognizer, fmt, output, check_images, tolerance)
    sidecar = {
        **recognizer.metadata.to_dict(),
        "source": source,
        "format": fmt,
        "input": f"float32 (N, {recognizer.image_size}, {recognizer.image_size}, 1) raw pixels 0..255",
    }
    Path(f"{output}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return diff


def default_output(uri: str, fmt: str) -> Path:
    """<root>/exports/<the model URI as a file name><format suffix>."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", re.sub(r"^\w+:/+", "", uri)).strip("-")
    return project_root() / "exports" / f"{slug}{FORMATS[fmt][1]}"


def _tflite_interpreter(path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TF's own interpreter, deprecated in favour of ai_edge_litert but still working
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_path=str(path))
