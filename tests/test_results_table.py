"""experiments/results_table.py prints one row per split of a logged training run."""

from __future__ import annotations

from pathlib import Path

import mlflow

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "results_table.py"


def test_rows_carry_split_metrics_and_provenance(state_root, run_script):
    mlflow.set_tracking_uri(f"sqlite:///{state_root}/mlflow.db")
    with mlflow.start_run(run_name="cnn_cpu_budget") as run:
        mlflow.log_params({"evaluation.tta": "crops"})
        mlflow.set_tags(
            {
                "hardware": "2 CPU cores (test)",
                "data.val_origin": "stratified 10% of Training",
                "data.test_origin": "PublicTest",
            }
        )
        mlflow.log_metrics(
            {
                "val_accuracy": 0.61,
                "val_macro_f1": 0.55,
                "val_recall_disgust": 0.5,
                "val_recall_fear": 0.3,
                "test_accuracy": 0.62,
                "test_macro_f1": 0.56,
                "test_recall_disgust": 0.52,
                "test_recall_fear": 0.33,
                "model_params": 1767207,
                "train_seconds": 6000,
                "teacher_seconds": 180,
                "epochs_trained": 60,
                "train_img_per_s": 280,
                "test_unseen_accuracy": 0.6,
                "test_unseen_macro_f1": 0.54,
                "test_unseen_rows": 3300,
            }
        )
    result = run_script(SCRIPT, run.info.run_id, "--no-latency", "--tracking-uri", f"sqlite:///{state_root}/mlflow.db")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| recipe (MLflow run) | split | accuracy |")
    val, test, unseen = lines[2:]
    assert f"`cnn_cpu_budget` (`{run.info.run_id}`)" in val
    assert "| val: stratified 10% of Training (TTA crops) | 0.610 | 0.550 | 0.500 | 0.300 | 1.77M |" in val
    assert "| test: PublicTest (TTA crops) | 0.620 | 0.560 | 0.520 | 0.330 |" in test
    assert "| 100 min (60 ep) + 3 min teacher | 280 | 2 CPU cores (test) | - |" in test
    assert (
        "| test_unseen: PublicTest rows with no exact copy in train or val (3300) (TTA crops) | 0.600 | 0.540 |"
        in unseen
    )
