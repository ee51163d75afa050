"""Tracking URI resolution, dead servers, and champion promotion by validation metrics."""

import contextlib
import json
import re
import shutil

import mlflow
import pytest
from mlflow import MlflowClient

from fer_lab.config import REGISTERED_MODEL_NAME, registered_model_name
from fer_lab.errors import FerLabError
from fer_lab.inference.catalog import default_model_uri
from fer_lab.tracking import configure_tracking, resolve_tracking_uri
from fer_lab.tracking.registry import CHAMPION, CHAMPION_TAG, VAL_FINGERPRINT_TAG, best_version, promote_if_better


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


def _champion_tag(client: MlflowClient, name: str, version: str) -> str:
    return client.get_run(client.get_model_version(name, version).run_id).data.tags[CHAMPION_TAG]


def test_without_a_champion_the_default_model_must_beat_the_bundled_one_on_the_same_rows(
    tiny_bundled, tmp_path, monkeypatch
):
    """A copy of the tiny bundled model whose card says val_accuracy 0.51 on the rows with fingerprint "fer-val"."""
    from fer_lab.inference import bundled

    folder = shutil.copytree(tiny_bundled, tmp_path / "reference")
    info = json.loads((folder / bundled.INFO_FILE).read_text())
    info["card"]["val_fingerprint"] = "fer-val"
    (folder / bundled.INFO_FILE).write_text(json.dumps(info))
    monkeypatch.setattr(bundled, "BUNDLED_DIR", folder)
    configure_tracking(None)
    client = MlflowClient()
    worse = _register_version(REGISTERED_MODEL_NAME, val_data="fer-val", val_accuracy=0.40)
    kept = promote_if_better(client, REGISTERED_MODEL_NAME, worse, "val_accuracy", "auto")
    assert not kept.promoted
    assert kept.reason.startswith("the bundled model has the better val_accuracy (0.5100 vs 0.4000)")
    assert f"fer_lab.promote --name fer_lab --version {worse}" in kept.reason
    assert _champion_tag(client, REGISTERED_MODEL_NAME, worse) == kept.reason  # the run says why
    other_rows = _register_version(REGISTERED_MODEL_NAME, val_data="ckplus-val", val_accuracy=0.95)
    kept = promote_if_better(client, REGISTERED_MODEL_NAME, other_rows, "val_accuracy", "auto")
    assert not kept.promoted and kept.reason.startswith("validated on other rows than the bundled model")
    assert default_model_uri() == "bundled"
    better = _register_version(REGISTERED_MODEL_NAME, val_data="fer-val", val_accuracy=0.60)
    assert promote_if_better(client, REGISTERED_MODEL_NAME, better, "val_accuracy", "auto").promoted
    assert _champion_tag(client, REGISTERED_MODEL_NAME, better) == "yes"
    assert default_model_uri() == "models:/fer_lab@champion"
    other = _register_version("mine", val_data="ckplus-val", val_accuracy=0.30)  # the bundled model stands for fer_lab
    assert promote_if_better(client, "mine", other, "val_accuracy", "auto").promoted


def test_models_trained_on_synthetic_faces_register_apart_and_never_take_champion_by_themselves(
    state_root, compose_train
):
    cfg = compose_train("data=synthetic")
    assert registered_model_name(cfg) == "fer_lab_synthetic"
    assert registered_model_name(compose_train("data=synthetic", "mlflow.registered_model_name=demo")) == "demo"
    assert registered_model_name(compose_train("data.path=fer.csv")) == "fer_lab"
    configure_tracking(None)
    client = MlflowClient()
    version = _register_version("demo", val_accuracy=0.99)
    kept = promote_if_better(client, "demo", version, "val_accuracy", "auto", data_source="synthetic")
    assert not kept.promoted and kept.reason.startswith("trained on synthetic faces; `python -m fer_lab.promote")
    assert promote_if_better(client, "demo", version, "val_accuracy", "always", data_source="synthetic").promoted


def test_a_missing_model_uri_is_answered_with_what_the_registry_holds(state_root):
    from fer_lab.inference.catalog import describe_model
    from fer_lab.tracking.registry import registry_contents

    configure_tracking(None)
    client = MlflowClient()
    assert registry_contents(client, "models:/fer_lab@champion").startswith(
        "the registry has no model 'fer_lab'; it is"
    )
    v1 = _register_version("mine", val_accuracy=0.5)
    _register_version("mine", val_accuracy=0.6)
    client.set_registered_model_alias("mine", CHAMPION, v1)
    assert registry_contents(client, "models:/fer_lab/2").startswith(
        "the registry has no model 'fer_lab'; it holds mine"
    )
    expected = "mine has versions 1, 2; aliases: @champion = version 1"
    assert registry_contents(client, "models:/mine@best") == expected
    with pytest.raises(FerLabError, match=re.escape(f"no registered model models:/mine/7 ({expected})")):
        describe_model("models:/mine/7")
