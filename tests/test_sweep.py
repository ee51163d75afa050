"""Hydra multirun sweeps: one MLflow parent per sweep, one child per job, a failing job does not stop the rest."""

from __future__ import annotations

import os
import subprocess
import sys

from mlflow import MlflowClient

from fer_lab.tracking import configure_tracking

TINY = (
    "data=synthetic",
    "data.samples_per_class=10",
    "model=cnn_tiny",
    "trainer.epochs=1",
    "trainer.verbose=0",
    "evaluation.tta=none",
    "evaluation.sample_grid=4",
    "task_name=sweep_t",
    "mlflow.registered_model_name=sweep_t",
)


def _sweep(state_root, *overrides: str) -> tuple[subprocess.CompletedProcess, object, list]:
    out = subprocess.run(
        [sys.executable, "-m", "fer_lab.train", "--multirun", *TINY, *overrides],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    configure_tracking(None)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("sweep_t").experiment_id
    runs = client.search_runs([experiment], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if r.data.tags.get("fer_lab.role") == "sweep"]
    assert len(parents) == 1, out.stderr[-3000:]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    return out, parents[0], children


def test_two_job_sweep_nests_two_runs_under_one_parent(state_root):
    out, parent, children = _sweep(state_root, "training.class_weight=none,balanced")
    assert out.returncode == 0, out.stderr[-3000:]
    assert parent.info.status == "FINISHED"
    assert len(children) == 2 and all(r.info.status == "FINISHED" for r in children)
    assert sorted(r.data.params["training.class_weight"] for r in children) == ["balanced", "none"]
    assert all("training.class_weight=" in r.data.tags["fer_lab.sweep_job"] for r in children)


def test_failing_job_is_recorded_and_the_next_job_still_runs(state_root):
    # a range the run checks (Hydra refuses a wrong type or choice in any job before the first job starts)
    out, parent, children = _sweep(state_root, "training.label_smoothing=1.5,0.0")
    assert out.returncode != 0
    assert "1 failed" in out.stderr and "training.label_smoothing=1.5" in out.stderr
    assert parent.info.status == "FAILED"
    assert sorted(r.info.status for r in children) == ["FAILED", "FINISHED"]
    failed = next(r for r in children if r.info.status == "FAILED")
    assert "label_smoothing" in failed.data.tags["fer_lab.error"]
