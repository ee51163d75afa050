"""Extending fer_lab: an architecture registered outside the package trains through its config alone."""

from __future__ import annotations

import toy_arch  # noqa: F401  (registers model.arch=toy)
from mlflow import MlflowClient

from fer_lab.training.run import run_training


def test_a_registered_architecture_trains_from_its_config(state_root, compose_train, tmp_path):
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "toy.yaml").write_text("# A toy net\ndefaults:\n  - toy_schema\n  - _self_\n\nfilters: 3\n")
    cfg = compose_train(
        f"hydra.searchpath=[file://{conf}]",
        "model=toy",
        "data=synthetic",
        "data.samples_per_class=10",
        "augmentation=none",
        "trainer.epochs=1",
        "trainer.verbose=0",
        "evaluation.tta=none",
        "evaluation.unseen_test=false",
        "evaluation.sample_grid=4",
        "mlflow.registered_model_name=toy",
    )
    assert (cfg.model.arch, cfg.model.name, cfg.model.filters) == ("toy", "toy", 3)

    summary = run_training(cfg)
    assert summary.fit.model.get_layer("conv").filters == 3 and summary.fit.state.epochs_run == 1
    run = MlflowClient().get_run(summary.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.arch"] == "toy" and run.data.params["model.filters"] == "3"
    assert "val_accuracy" in run.data.metrics and "epoch/loss" in run.data.metrics
    assert summary.model_version is not None
