"""Tracking URI resolution, dead servers, and champion promotion by validation metrics."""

import mlflow
import pytest
from mlflow import MlflowClient

from fer_lab.errors import FerLabError
from fer_lab.tracking import configure_tracking, resolve_tracking_uri
from fer_lab.tracking.registry import CHAMPION, best_version, promote_if_better


def test_relative_sqlite_uri_is_made_absolute_against_the_root(state_root, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert resolve_tracking_uri(None) == f"sqlite:///{state_root}/mlflow.db"
    assert resolve_tracking_uri("sqlite:///x/y.db") == f"sqlite:///{state_root}/x/y.db"


def test_plain_folder_uri_is_refused_with_a_fix():
    with pytest.raises(FerLabError, match="sqlite:///"):
        resolve_tracking_uri("./mlruns")


def test_dead_tracking_server_gives_a_clear_error():
    with pytest.raises(FerLabError, match="unreachable.*make ui"):
        configure_tracking("http://127.0.0.1:9")


def _register_version(name: str, **metrics) -> str:
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
    client = MlflowClient()
    try:
        client.create_registered_model(name)
    except mlflow.exceptions.MlflowException:
        pass
    return client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id).version


def test_auto_promotion_keeps_the_better_champion(state_root):
    configure_tracking(None)
    client = MlflowClient()
    v1 = _register_version("m", val_accuracy=0.6, test_accuracy=0.1)
    assert promote_if_better(client, "m", v1, "val_accuracy", "auto")
    v2 = _register_version("m", val_accuracy=0.5, test_accuracy=0.9)
    assert not promote_if_better(client, "m", v2, "val_accuracy", "auto")
    v3 = _register_version("m", val_accuracy=0.7, test_accuracy=0.0)
    assert promote_if_better(client, "m", v3, "val_accuracy", "auto")
    assert client.get_model_version_by_alias("m", CHAMPION).version == v3
    assert best_version(client, "m", "val_accuracy") == (v3, pytest.approx(0.7))
    with pytest.raises(FerLabError, match="validation"):
        best_version(client, "m", "test_accuracy")
