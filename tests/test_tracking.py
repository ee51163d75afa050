"""Tracking URI resolution, dead servers, and champion promotion by validation metrics."""

import contextlib

import mlflow
import pytest
from mlflow import MlflowClient

from fer_lab.errors import FerLabError
from fer_lab.tracking import configure_tracking, resolve_tracking_uri
from fer_lab.tracking.registry import CHAMPION, VAL_FINGERPRINT_TAG, best_version, promote_if_better


def test_relative_sqlite_uri_is_made_absolute_against_the_root(state_root, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert resolve_tracking_uri(None) == f"sqlite:///{state_root}/mlflow.db"
    assert resolve_tracking_uri("sqlite:///x/y.db") == f"sqlite:///{state_root}/x/y.db"


def test_plain_folder_uri_is_refused_with_a_fix():
    with pytest.raises(FerLabError, match="sqlite:///"):
        resolve_tracking_uri("./mlruns")


def test_dead_tracking_server_gives_a_clear_error():
    with pytest.raises(FerLabError, match=r"unreachable.*make ui"):
        configure_tracking("http://127.0.0.1:9")


def _register_version(name: str, val_data: str | None = None, **metrics) -> str:
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
        if val_data:
            mlflow.set_tag(VAL_FINGERPRINT_TAG, val_data)
    client = MlflowClient()
    with contextlib.suppress(mlflow.exceptions.MlflowException):
        client.create_registered_model(name)
    return client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id).version


def test_auto_promotion_keeps_the_better_champion(state_root):
    configure_tracking(None)
    client = MlflowClient()
    v1 = _register_version("m", val_accuracy=0.6, test_accuracy=0.1)
    assert promote_if_better(client, "m", v1, "val_accuracy", "auto").promoted
    v2 = _register_version("m", val_accuracy=0.5, test_accuracy=0.9)
    kept = promote_if_better(client, "m", v2, "val_accuracy", "auto")
    assert not kept.promoted and kept.reason == f"version {v1} has the better val_accuracy (0.6000 vs 0.5000)"
    v3 = _register_version("m", val_accuracy=0.7, test_accuracy=0.0)
    assert promote_if_better(client, "m", v3, "val_accuracy", "auto").promoted
    assert client.get_model_version_by_alias("m", CHAMPION).version == v3
    assert best_version(client, "m", "val_accuracy") == (v3, pytest.approx(0.7))
    with pytest.raises(FerLabError, match="validation"):
        best_version(client, "m", "test_accuracy")


def test_auto_promotion_compares_only_runs_validated_on_the_same_data(state_root):
    """A higher val_accuracy on other validation data (FER+ labels, a deduplicated split) is not better."""
    configure_tracking(None)
    client = MlflowClient()
    v1 = _register_version("d", val_data="fer2013-val", val_accuracy=0.65)
    assert promote_if_better(client, "d", v1, "val_accuracy", "auto").promoted
    v2 = _register_version("d", val_data="ferplus-val", val_accuracy=0.80)
    kept = promote_if_better(client, "d", v2, "val_accuracy", "auto")
    assert not kept.promoted and f"version {v1} was validated on other data" in kept.reason
    assert f"fer_lab.promote --name d --version {v2}" in kept.reason
    v3 = _register_version("d", val_data="fer2013-val", val_accuracy=0.66)
    assert promote_if_better(client, "d", v3, "val_accuracy", "auto").promoted
    assert client.get_model_version_by_alias("d", CHAMPION).version == v3
    with pytest.raises(FerLabError, match=f"2 different data sets .*versions {v1}, {v3}; versions {v2}"):
        best_version(client, "d", "val_accuracy")


def test_a_logged_model_pins_keras_numpy_and_the_backend_without_inferring_them(state_root):
    import keras
    import numpy as np

    from fer_lab.labels import EMOTIONS
    from fer_lab.tracking.model_io import ModelMetadata, log_keras_model

    configure_tracking(None)
    inputs = keras.Input((48, 48, 1))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs)))
    with mlflow.start_run():
        info = log_keras_model(model, ModelMetadata(EMOTIONS, 48, 0.0, "tiny"), np.zeros((1, 48, 48, 1)))
    with open(mlflow.pyfunc.get_model_dependencies(info.model_uri)) as f:
        pins = {line.split("==")[0]: line.strip().split("==")[1] for line in f if "==" in line}
    assert pins["keras"] == keras.__version__ and pins["numpy"] == np.__version__
    assert {"tensorflow", "tensorflow-cpu"} & set(pins)  # the backend the tests run on


def test_pinned_requirements_name_the_backend_distribution_that_is_installed(monkeypatch):
    from fer_lab.tracking import model_io

    monkeypatch.setattr(model_io, "_BACKEND_DISTRIBUTIONS", {"tensorflow": ("no-such-dist", "keras")})
    assert model_io.pip_requirements()[-1].startswith("keras==")  # the first of the distributions that exists
    monkeypatch.setattr(model_io, "_BACKEND_DISTRIBUTIONS", {})
    assert [pin.split("==")[0] for pin in model_io.pip_requirements()] == ["keras", "numpy"]
