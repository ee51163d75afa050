"""Log a Keras model to MLflow with the metadata inference needs, and load it back by URI."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fer_lab.config import REGISTERED_MODEL_NAME, TTA_MODES
from fer_lab.errors import FerLabError
from fer_lab.tracking.registry import CHAMPION

METADATA_KEY = "fer_lab"
# The distributions each Keras backend is installed as, tried in order.
_BACKEND_DISTRIBUTIONS = {"tensorflow": ("tensorflow-cpu", "tensorflow"), "jax": ("jax",), "torch": ("torch",)}


@dataclass(frozen=True)
class ModelMetadata:
    """What inference needs to reproduce training's input and serve calibrated probabilities: read from the logged
    model, never re-typed. `temperatures` maps a TTA mode to the temperature that scales the model's probabilities
    at that mode (apply_temperature); a mode without one is served unscaled (1.0)."""

    class_names: tuple[str, ...]
    image_size: int
    face_margin: float
    model_name: str
    temperatures: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        for mode, t in self.temperatures.items():
            if mode not in TTA_MODES:
                raise FerLabError(
                    f"model {self.model_name!r} has a temperature for tta {mode!r}: expected one of "
                    f"{', '.join(TTA_MODES)}"
                )
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t > 0):
                raise FerLabError(
                    f"model {self.model_name!r} has temperature {t!r} for tta={mode}: it must be a positive number"
                )

    def temperature(self, tta: str) -> float:
        """The temperature of the model's probabilities at TTA mode `tta` (1.0 where none was fitted)."""
        return float(self.temperatures.get(tta, 1.0))

    def to_dict(self) -> dict:
        return {**asdict(self), "class_names": list(self.class_names), "channels": 1, "pixel_range": [0, 255]}

    @classmethod
    def from_dict(cls, d: dict) -> ModelMetadata:
        """The metadata of to_dict; without `temperatures`, none."""
        return cls(
            tuple(d["class_names"]),
            int(d["image_size"]),
            float(d["face_margin"]),
            str(d["model_name"]),
            dict(d.get("temperatures") or {}),
        )


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) of class probabilities p (..., K), in their dtype: flatter for T > 1, sharper for T < 1,
    the same order of classes; T = 1 returns `probs` itself."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.maximum(np.asarray(probs, dtype="float64"), np.finfo("float64").tiny)) / temperature
    scaled = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(np.asarray(probs).dtype)


def pip_requirements() -> list[str]:
    """What loading a logged model needs, pinned to this environment: keras, numpy and the backend in use.

    Given to MLflow so that it does not infer them itself, which loads the model again in a subprocess (seconds
    per logged model); MLflow adds its own pin.
    """
    from importlib.metadata import PackageNotFoundError, version

    import keras

    pins = [f"keras=={version('keras')}", f"numpy=={version('numpy')}"]
    for distribution in _BACKEND_DISTRIBUTIONS.get(keras.backend.backend(), ()):
        try:
            return [*pins, f"{distribution}=={version(distribution)}"]
        except PackageNotFoundError:
            continue
    return pins


def log_keras_model(model, metadata: ModelMetadata, sample_x: np.ndarray, registered_name: str | None = None):
    """Log `model` under the active run as artifact "model" with a signature; register it if named.

    Returns mlflow's ModelInfo (its registered_model_version is set when registered).
    """
    import mlflow
    from mlflow.models import infer_signature

    x = sample_x.astype("float32")
    signature = infer_signature(x, np.asarray(model.predict(x, verbose=0), dtype="float32"))
    return mlflow.keras.log_model(
        model,
        name="model",
        signature=signature,
        registered_model_name=registered_name,
        metadata={METADATA_KEY: metadata.to_dict()},
        pip_requirements=pip_requirements(),
    )


def registry_uri(name: str = REGISTERED_MODEL_NAME, alias: str = CHAMPION) -> str:
    """models:/<name>@<alias>: by default the champion of the registered model."""
    return f"models:/{name}@{alias}"


def load_logged_model(model_uri: str):
    """Load (keras.Model, ModelMetadata) from a models:/, runs:/ URI or a local MLflow model folder.

    A local `.keras` file is accepted too; its metadata must then come from the caller.
    """
    import mlflow

    from fer_lab.models import load_with_jit

    if model_uri.endswith(".keras"):
        raise FerLabError(f"{model_uri} is a bare .keras file: load it with keras.saving.load_model")
    try:
        info = mlflow.models.get_model_info(model_uri)
        model = load_with_jit(lambda: mlflow.keras.load_model(model_uri))
    except Exception as err:  # mlflow raises several types for a missing model/alias
        raise FerLabError(_missing_model_message(model_uri, err)) from None
    meta = (info.metadata or {}).get(METADATA_KEY)
    if meta is None:
        raise FerLabError(
            f"model {model_uri} was not logged by fer_lab (no '{METADATA_KEY}' "
            "metadata); train it with `python -m fer_lab.train`"
        )
    return model, ModelMetadata.from_dict(meta)


def training_run(model_uri: str):
    """The MLflow run that logged the model at `model_uri`, or None when this tracking store does not hold it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        run_id = mlflow.models.get_model_info(model_uri).run_id
        return mlflow.MlflowClient().get_run(run_id) if run_id else None
    except MlflowException:
        return None


def _missing_model_message(model_uri: str, err: Exception) -> str:
    first_line = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
    hint = (
        "train and register one with `python -m fer_lab.train` (or `make demo`), "
        "or promote a version with `python -m fer_lab.promote`"
    )
    if Path(model_uri).exists():
        hint = "check that the folder holds an MLflow model (an MLmodel file)"
    from mlflow import MlflowClient

    from fer_lab.tracking.registry import registry_contents

    contents = registry_contents(MlflowClient(), model_uri)
    return f"cannot load model {model_uri}: {first_line}{f' ({contents})' if contents else ''}. To fix: {hint}."
