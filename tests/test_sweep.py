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


def test_a_sweep_nests_its_jobs_under_one_parent_and_a_failing_job_does_not_stop_the_others(state_root):
    # label_smoothing=1.5 is out of the range the run checks (Hydra refuses a wrong type or choice in any job before
    # the first job starts): two of the four jobs fail, the other two train
    out, parent, children = _sweep(
        state_root, "training.class_weight=none,balanced", "training.label_smoothing=1.5,0.0"
    )
    assert out.returncode != 0
    assert "2 failed" in out.stderr and "training.label_smoothing=1.5" in out.stderr
    assert parent.info.status == "FAILED"
    assert len(children) == 4 and all("training.class_weight=" in r.data.tags["fer_lab.sweep_job"] for r in children)
    assert sorted(r.info.status for r in children) == ["FAILED", "FAILED", "FINISHED", "FINISHED"]
    finished = [r for r in children if r.info.status == "FINISHED"]
    assert sorted(r.data.params["training.class_weight"] for r in finished) == ["balanced", "none"]
    assert all("label_smoothing" in r.data.tags["fer_lab.error"] for r in children if r.info.status == "FAILED")


def test_a_sweep_over_seeds_only_logs_the_spread_of_its_jobs():
    from types import SimpleNamespace

    from fer_lab.tracking.sweep import seed_spread, swept_keys

    assert swept_keys(["trainer.init_seed=0,1,2", "model=cnn_tiny"]) == {"trainer.init_seed"}
    assert swept_keys(["seed=range(3)", "model=cnn_tiny,custom_cnn"]) == {"seed", "model"}

    def run(status, **metrics):
        return SimpleNamespace(info=SimpleNamespace(status=status), data=SimpleNamespace(metrics=metrics))

    runs = [run("FINISHED", val_accuracy=0.60), run("FINISHED", val_accuracy=0.64), run("FAILED", val_accuracy=0.1)]
    spread = seed_spread(runs)
    assert spread["val_accuracy_mean"] == 0.62 and round(spread["val_accuracy_std"], 4) == round(0.04 / 2**0.5, 4)
    assert (spread["val_accuracy_min"], spread["val_accuracy_max"]) == (0.60, 0.64)
    assert "test_accuracy_mean" not in spread  # not logged by the jobs
