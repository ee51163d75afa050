"""End to end: compose every config, train one tiny epoch on synthetic data, resume, refuse bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import mlflow
import pytest
from hydra.errors import HydraException
from mlflow import MlflowClient

from fer_lab.errors import report_user_errors
from fer_lab.paths import CONF_DIR
from fer_lab.training import run as train_run
from fer_lab.training.callbacks import MlflowEpochMetrics
from fer_lab.training.checks import validate_train_config

TINY = (
    "data=synthetic",
    "data.samples_per_class=12",
    "model=cnn_tiny",
    "augmentation=light",
    "trainer.batch_size=16",
    "evaluation.sample_grid=4",
    "task_name=e2e",
    "mlflow.registered_model_name=e2e",
)


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


COMPANIONS = {"cosine_budget": ("trainer.max_minutes=10",)}  # options that need another key set


@pytest.mark.parametrize("group", ["model", "data", "augmentation", "optimizer", "schedule"])
def test_every_config_option_composes_and_validates(compose_train, group):
    options = _options(group)
    assert options, f"conf/{group} is empty"
    for option in options:
        cfg = compose_train(f"{group}={option}", *COMPANIONS.get(option, ()))
        validate_train_config(cfg)
        assert cfg.paths.root and Path(cfg.paths.checkpoints).is_absolute()


@pytest.mark.parametrize("primary", sorted(p.stem for p in CONF_DIR.glob("*.yaml")))
def test_every_primary_config_composes_with_absolute_state_paths(compose_train, primary):
    cfg = compose_train(config_name=primary)
    assert Path(cfg.paths.root).is_absolute()


def test_hydra_keeps_the_working_directory(compose_train):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        hydra_cfg = compose("train", return_hydra_config=True).hydra
    assert hydra_cfg.job.chdir is False
    assert Path(hydra_cfg.run.dir).is_absolute()


def test_one_epoch_on_synthetic_data_is_tracked_and_registered(state_root, compose_train, capsys):
    summary = train_run.run_training(compose_train(*TINY, "trainer.epochs=1"), overrides=list(TINY))
    client = MlflowClient()
    run = client.get_run(summary.run_id)
    assert run.info.status == "FINISHED"
    for key in (
        "val_accuracy",
        "val_macro_f1",
        "test_accuracy",
        "test_macro_f1",
        "test_recall_disgust",
        "test_unseen_accuracy",
        "test_unseen_macro_f1",
        "epoch/loss",
        "epoch/val_accuracy",
        "train_img_per_s",
    ):
        assert key in run.data.metrics, key
    test_rows = summary.reports["test"].confusion.sum()
    assert run.data.metrics["test_unseen_rows"] + run.data.metrics["test_leaked_rows"] == test_rows
    assert (
        "fer_lab: test_unseen (synthetic test rows without an exact copy in train or val (" in capsys.readouterr().out
    )
    assert run.data.params["model.name"] == "cnn_tiny"
    assert len(run.data.tags["data.val_fingerprint"]) == 16
    assert run.data.tags["git_dirty"] in ("true", "false", "unknown")
    assert "CPU cores" in run.data.tags["hardware"] and run.data.tags["keras_backend"] == "tensorflow"
    artifacts = {
        a.path for folder in ("", "figures", "config", "reports") for a in client.list_artifacts(summary.run_id, folder)
    }
    for path in (
        "figures/confusion_test.png",
        "figures/confusion_val.png",
        "figures/curves.png",
        "figures/samples_val.png",
        "config/resolved.yaml",
        "config/overrides.txt",
        "reports/classification_test.txt",
        "data",
    ):
        assert path in artifacts, path
    assert summary.promotion is not None and not summary.promotion.promoted  # synthetic faces never take champion
    uri = f"models:/e2e/{summary.model_version}"
    assert client.get_model_version("e2e", summary.model_version).run_id == summary.run_id
    logged = mlflow.models.get_model_info(uri).metadata["fer_lab"]
    assert logged["temperatures"] == {"flip": pytest.approx(run.data.metrics["temperature"])}  # evaluation.tta
    model = mlflow.keras.load_model(uri)
    assert model.predict(keras.ops.zeros((2, 48, 48, 1)), verbose=0).shape == (2, 7)
    assert not list((state_root / "checkpoints").rglob("state.json")), "finished runs leave no checkpoint"


class _Interrupt(MlflowEpochMetrics):
    """Logs the epoch, then simulates Ctrl-C after the second epoch."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_from_the_saved_epoch(state_root, compose_train, monkeypatch):
    cfg = compose_train(*TINY, "trainer.epochs=3", "trainer.early_stopping_patience=0")
    monkeypatch.setattr(train_run, "MlflowEpochMetrics", _Interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_run.run_training(cfg)
    (killed,) = MlflowClient().search_runs([mlflow.get_experiment_by_name("e2e").experiment_id])
    assert killed.info.status == "KILLED"

    monkeypatch.setattr(train_run, "MlflowEpochMetrics", MlflowEpochMetrics)
    summary = train_run.run_training(cfg)
    assert summary.run_id == killed.info.run_id
    assert summary.fit.resumed_at == 2
    assert len(summary.fit.epoch_seconds) == 1, "only the remaining epoch is trained"
    assert summary.fit.state.train_seconds > summary.fit.epoch_seconds[0], "time budgets count earlier epochs"
    assert summary.fit.state.epochs_run == 3
    steps = [m.step for m in MlflowClient().get_metric_history(summary.run_id, "epoch/loss")]
    assert sorted(steps) == [0, 1, 2]
    assert MlflowClient().get_run(summary.run_id).info.status == "FINISHED"


def _train_cli(root: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {
        "FER_LAB_ROOT": str(root),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "fer_lab.train", *overrides], capture_output=True, text=True, env=env, timeout=300
    )


HYDRA_REFUSED, FER_LAB_REFUSED = 1, 2  # exit status: a value the schema rejects at compose time | a run-time check
CLI_CASES = ("trainer.precision=half", "data.path=/nonexistent/fer.csv")  # one per exit path; the rest in-process


@pytest.mark.parametrize(
    "overrides,message,status",
    [
        (("trainer.epochs=-1",), "trainer.epochs", FER_LAB_REFUSED),
        (("trainer.max_minutes=-5",), "trainer.max_minutes", FER_LAB_REFUSED),
        (("schedule=cosine_budget",), "trainer.max_minutes", FER_LAB_REFUSED),
        (("evaluation.unseen_test=maybe",), "evaluation.unseen_test", HYDRA_REFUSED),
        (("evaluation.refit=true",), "evaluation.cross_validate=true", FER_LAB_REFUSED),
        (("trainer.precision=half",), "expected one of [float32, mixed_bfloat16, mixed_float16]", HYDRA_REFUSED),
        (("trainer.epochs=many",), "trainer.epochs", HYDRA_REFUSED),
        (("data.path=/nonexistent/fer.csv",), "/nonexistent/fer.csv", FER_LAB_REFUSED),
        (("mlflow.tracking_uri=http://127.0.0.1:9",), "unreachable", FER_LAB_REFUSED),
    ],
)
def test_bad_input_gives_one_clear_message_and_no_run(state_root, compose_train, capsys, overrides, message, status):
    if overrides[0] in CLI_CASES:
        result = _train_cli(state_root, *overrides)
        code, err = result.returncode, result.stderr
    elif status == HYDRA_REFUSED:  # what `python -m fer_lab.train` prints is Hydra's message for this error
        with pytest.raises(HydraException) as refused:
            compose_train(*overrides)
        code, err = HYDRA_REFUSED, f"{refused.value}\n{refused.value.__cause__ or ''}"
    else:  # what `python -m fer_lab.train` runs once the config is composed
        with pytest.raises(SystemExit) as exited:
            report_user_errors(train_run.run_training)(compose_train(*overrides))
        code, err = exited.value.code, capsys.readouterr().err
    assert code == status, err
    assert message in err
    assert "Traceback" not in err
    db = state_root / "mlflow.db"
    if db.exists():
        mlflow.set_tracking_uri(f"sqlite:///{db}")
        assert not MlflowClient().search_runs([e.experiment_id for e in MlflowClient().search_experiments()])
