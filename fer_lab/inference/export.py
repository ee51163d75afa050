"""Export a model to SavedModel, TFLite (LiteRT) or ONNX, check that the export predicts what Keras predicts,
and write the metadata it needs beside it (<output>.json)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from fer_lab.config import require
from fer_lab.errors import FerLabError
from fer_lab.inference.recognizer import EmotionRecognizer
from fer_lab.paths import project_root

FORMATS = {"savedmodel": "_savedmodel", "tflite": ".tflite", "onnx": ".onnx"}
"""Our format name -> output suffix."""
ONNX_PACKAGES = ("tf2onnx", "onnx", "onnxruntime")
ENDPOINT = "serve"  # the SavedModel endpoint and signature of write_saved_model


def export_model(model, fmt: str, output: Path) -> Path:
    """Write the inference pass of `model` (augmentation layers off) to `output` in format `fmt`
    (savedmodel: a folder; tflite, onnx: a file)."""
    require(fmt in FORMATS, "format", fmt, " | ".join(FORMATS))
    if fmt == "onnx":
        missing = [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None]
        if missing:
            raise FerLabError(
                f"format=onnx needs fer_lab's onnx extra ({', '.join(ONNX_PACKAGES)}; missing: {', '.join(missing)}): "
                "run `pip install -e '.[onnx]'` in the fer_lab checkout (make install includes it), "
                "or use format=savedmodel|tflite"
            )
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "savedmodel":
        write_saved_model(model, output)
    elif fmt == "tflite":  # Keras's LiteRT exporter calls the model with training=False itself
        model.export(str(output), format="litert", verbose=False)
    else:
        _write_onnx(model, output)
    return output


def write_saved_model(model, folder: Path) -> None:
    """A TF SavedModel of `model` called with training=False: endpoint and signature ENDPOINT on float32
    (N, S, S, 1) pixels. Plain `model.export` would keep the augmentation block active (Keras random layers
    default to training=True)."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32", name="pixels")
    archive.add_endpoint(ENDPOINT, functools.partial(model.__call__, training=False), input_signature=[spec])
    archive.write_out(str(folder), verbose=False)


def _write_onnx(model, output: Path) -> None:
    """`model` through write_saved_model, then what `python -m tf2onnx.convert --saved-model` does.

    (tf2onnx.convert.from_keras fails on Keras 3; from_function turns constants that Keras layers such as
    Normalization capture into extra model inputs.)
    """
    import onnx
    import tf2onnx
    from tf2onnx import tf_loader

    with tempfile.TemporaryDirectory() as folder, _quiet_loggers("tf2onnx", "tensorflow"):
        write_saved_model(model, Path(folder))
        graph_def, inputs, outputs, renames = tf_loader.from_saved_model(
            folder, None, None, tag=["serve"], signatures=[ENDPOINT], return_tensors_to_rename=True
        )
        proto, _ = tf2onnx.convert.from_graph_def(
            graph_def, input_names=inputs, output_names=outputs, tensors_to_rename=renames
        )
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        raise FerLabError(
            f"tf2onnx cannot convert this model to ONNX ({str(err).splitlines()[0]}): "
            "use format=savedmodel|tflite instead"
        ) from err
    onnx.save(proto, str(output))


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """Only errors from these loggers meanwhile: tf2onnx logs each step, TensorFlow the TF1 APIs it calls."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def predict_exported(fmt: str, output: Path, x: np.ndarray) -> np.ndarray:
    """Probabilities of the exported model for raw-pixel images x (N, S, S, 1) float32."""
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(output))  # keep a reference: the endpoint needs its variables alive
        return getattr(loaded, ENDPOINT)(x).numpy()
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
    """Largest |probability difference| between the export and the Keras model (both before the temperature) on n
    random images; raises if > tolerance."""
    size = recognizer.image_size
    x = np.random.default_rng(0).integers(0, 256, (n, size, size, 1)).astype("float32")
    diff = float(np.max(np.abs(predict_exported(fmt, output, x) - np.asarray(recognizer.model.predict_on_batch(x)))))
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
    <output>.json; returns the largest probability difference. An export that fails its check is deleted."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        export_model(recognizer.model, fmt, output)
    except OSError as err:
        raise FerLabError(f"cannot write the export to {output}: {err.strerror or err}; choose output=...") from None
    try:
        diff = check_export(recognizer, fmt, output, check_images, tolerance)
    except FerLabError:  # do not leave an export that disagrees with the model
        if output.is_dir():
            shutil.rmtree(output)
        else:
            output.unlink(missing_ok=True)
        raise
    sidecar = {
        **recognizer.metadata.to_dict(),
        "source": source,
        "format": fmt,
        "input": f"float32 (N, {recognizer.image_size}, {recognizer.image_size}, 1) raw pixels 0..255",
        "tta": "none",
        "output": "class probabilities (N, K) of one pass (tta none), before the temperature: "
        "softmax(log(p) / temperatures['none']) calibrates them (1 when absent)",
    }
    Path(f"{output}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return diff


def default_output(uri: str, fmt: str) -> Path:
    """<root>/exports/<the model URI as a file name><format suffix>."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", re.sub(r"^\w+:/+", "", uri)).strip("-")
    return project_root() / "exports" / f"{slug}{FORMATS[fmt]}"


def _tflite_interpreter(path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # TF's own interpreter, deprecated in favour of ai_edge_litert but still working
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_path=str(path))
