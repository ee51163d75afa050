"""Load a trained fer_lab model and its metadata from any place a user names it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fer_lab.errors import FerLabError
from fer_lab.inference.bundled import BUNDLED_URI, bundled_model
from fer_lab.labels import EMOTIONS
from fer_lab.tracking.model_io import ModelMetadata, load_logged_model


def load_model(uri: str, tracking_uri: str | None = None):
    """(keras.Model, ModelMetadata) at models:/name@alias, models:/name/3, runs:/<run id>/model, an MLflow model
    folder, a .keras file (FER-2013 class names assumed) or `bundled` (the reference model in the package)."""
    if str(uri) == BUNDLED_URI:
        bundled = bundled_model()
        meta = bundled.metadata
        model, _ = load_model_file(bundled.model_file, meta.class_names, meta.image_size, meta.face_margin)
        return model, meta
    if str(uri).endswith(".keras"):
        return load_model_file(uri)
    from fer_lab.tracking.uri import configure_tracking

    configure_tracking(tracking_uri)
    return load_logged_model(str(uri))


def load_model_file(
    path: str | Path,
    class_names: Sequence[str] = EMOTIONS,
    image_size: int | None = None,
    face_margin: float = 0.0,
    model_name: str | None = None,
):
    """(keras.Model, ModelMetadata) of a local .keras file; what MLflow metadata would say is given here."""
    import keras

    from fer_lab.models import load_with_jit

    if not Path(path).is_file():
        raise FerLabError(f"model file {path} not found; pass a .keras file or a models:/ URI")
    try:
        model = load_with_jit(lambda: keras.saving.load_model(path, compile=False))
    except Exception as err:  # keras raises ValueError, OSError, zipfile errors...
        raise FerLabError(f"cannot load Keras model {path}: {err}") from None
    if model.output_shape[-1] != len(class_names):
        raise FerLabError(
            f"model file {path} has {model.output_shape[-1]} outputs but {len(class_names)} class "
            f"names ({', '.join(class_names)}; a bare .keras file is read with the FER-2013 ones): "
            "use the models:/ URI of a model logged by fer_lab.train, which carries its class names"
        )
    size = image_size or model.input_shape[1]
    return model, ModelMetadata(tuple(class_names), int(size), float(face_margin), model_name or Path(path).stem)
