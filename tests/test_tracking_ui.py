"""`make ui`: the MLflow UI of the store the commands use, opening on the training runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlflow import MlflowClient

from fer_lab.tracking import configure_tracking, ui
from fer_lab.tracking.runs import EXPERIMENT_KIND_TAG, MODEL_TRAINING, ensure_experiment

ROOT = Path(__file__).resolve().parents[1]


def test_make_ui_serves_the_store_of_the_commands_and_names_the_training_runs(
    state_root, tmp_path, monkeypatch, capsys
):
    store = f"sqlite:///{tmp_path / 'elsewhere.db'}"  # a store set by $MLFLOW_TRACKING_URI, not <root>/mlflow.db
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    experiment = ensure_experiment("train", configure_tracking(None))  # what a training creates
    make = subprocess.run(["make", "-n", "ui", "PORT=5999"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "-m fer_lab.tracking.ui --port 5999" in make.stdout
    started = []
    monkeypatch.setattr(ui.os, "execv", lambda path, command: started.append(command))
    ui.main(["--port", "5999"])
    assert capsys.readouterr().out.startswith(
        f"fer_lab: MLflow UI of {store}: training runs on http://127.0.0.1:5999/#/experiments/{experiment}, "
    )
    [command] = started
    assert command[1:4] == ["-m", "mlflow", "ui"]
    assert command[command.index("--backend-store-uri") + 1] == store
    assert command[command.index("--artifacts-destination") + 1] == str(state_root / "mlartifacts")
    tags = MlflowClient().get_experiment(experiment).tags
    assert tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING  # MLflow's UI opens it on its training runs


def test_a_tracking_server_serves_its_own_ui(capsys, tracking_server):
    ui.main(["--tracking-uri", tracking_server.uri])
    assert capsys.readouterr().out.startswith(
        f"fer_lab: MLflow UI of {tracking_server.uri}: training runs on {tracking_server.uri}/#/experiments"
    )
