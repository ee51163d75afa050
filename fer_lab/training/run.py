"""The train pipeline: validate, load data, build, fit (resumably), evaluate, log, register."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
from omegaconf import DictConfig

from fer_lab.config import registered_model_name
from fer_lab.data import FerData, load_dataset
from fer_lab.evaluation import SplitReport, UnseenTestReport
from fer_lab.evaluation.calibration import fit_temperature
from fer_lab.evaluation.plots import plot_curves, plot_samples
from fer_lab.evaluation.tracked import evaluate_and_log
from fer_lab.evaluation.tta import predict_with_tta
from fer_lab.models import build_model
from fer_lab.tracking import configure_tracking
from fer_lab.tracking.model_io import ModelMetadata, log_keras_model
from fer_lab.tracking.registry import CHAMPION, VAL_FINGERPRINT_TAG, Promotion, promote_if_better
from fer_lab.tracking.runs import tracked_run
from fer_lab.training.callbacks import MlflowEpochMetrics
from fer_lab.training.checkpoint import CheckpointStore, RunState
from fer_lab.training.checks import validate_train_config
from fer_lab.training.distillation import with_teacher_targets
from fer_lab.training.distribution import Devices
from fer_lab.training.fit import FitResult, fit_resumable
from fer_lab.training.init_from import initialize_from
from fer_lab.training.precision import dtype_policy, float32_model
from fer_lab.training.seeding import seed_everything, training_seed


@dataclass(frozen=True)
class TrainSummary:
    run_id: str
    tracking_uri: str
    reports: dict[str, SplitReport]
    fit: FitResult
    model_version: str | None
    promotion: Promotion | None  # None when the model was not registered
    unseen_test: UnseenTestReport | None


def run_training(cfg: DictConfig, overrides: Sequence[str] = (), parent_run_id: str | None = None) -> TrainSummary:
    """Train `cfg.model` on `cfg.data` and track it in MLflow. Rerunning after an interruption resumes."""
    import mlflow

    validate_train_config(cfg)
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    seed_everything(training_seed(cfg), cfg.trainer.deterministic)
    devices = Devices(cfg.trainer.get("distribution"), cfg.trainer.batch_size)
    data = load_dataset(cfg.data, seed=cfg.seed)
    teacher_seconds = None
    if cfg.training.get("teacher"):
        distilled = with_teacher_targets(data, cfg, tracking_uri)
        data, teacher_seconds = distilled.data, distilled.teacher_seconds
        print(f"fer_lab: {distilled.line}", flush=True)

    def build() -> keras.Model:
        return build_model(
            cfg.model, cfg.augmentation, input_shape=data.train.x.shape[1:], num_classes=len(data.class_names)
        )

    precision = cfg.trainer.precision
    with dtype_policy(precision), devices.scope():
        model = devices.prepare(build())
        if cfg.model.get("init_from"):
            print(f"fer_lab: {initialize_from(model, cfg.model.init_from, data.class_names, tracking_uri)}", flush=True)
    store = CheckpointStore.for_config(cfg)
    state = store.load() if cfg.trainer.resume else RunState()
    run_name = cfg.mlflow.run_name or f"{cfg.model.name}-{Path(str(cfg.data.get('path', 'synthetic'))).name}"
    with tracked_run(cfg, tracking_uri, state.run_id, list(overrides), run_name, parent_run_id) as run:
        if state.run_id != run.info.run_id:  # a fresh run: drop any stale checkpoint of this config
            store.clear()
            state = RunState(run_id=run.info.run_id)
            store.save(state)
        _print_start(cfg, data, state.epoch, devices)
        _log_inputs(data, devices, teacher_seconds)
        with dtype_policy(precision), devices.scope():
            result = fit_resumable(model, data, cfg, store, state, [MlflowEpochMetrics()])
        result = replace(result, model=float32_model(devices.local_model(result.model, build), build))
        splits = [s for s in (data.val, data.test) if s is not None and len(s)]
        evaluation = evaluate_and_log(
            result.model,
            data,
            splits,
            tta=cfg.evaluation.tta,
            crop_fraction=cfg.evaluation.crop_fraction,
            unseen_test=cfg.evaluation.unseen_test,
        )
        temperature = fit_temperature(evaluation.probabilities["val"], data.val.labels)
        mlflow.log_metric("temperature", temperature)
        _log_results(result, data, cfg, run.info.run_id)
        version, promotion = _register(result, data, cfg, {str(cfg.evaluation.tta): temperature})
    store.clear()
    summary = TrainSummary(
        run.info.run_id, tracking_uri, evaluation.reports, result, version, promotion, evaluation.unseen_test
    )
    _print_summary(summary, cfg)
    return summary


def _log_inputs(data: FerData, devices: Devices, teacher_seconds: float | None) -> None:
    """What the run trains on: the data (summary and tags), the number of devices (tag trainer.devices) and, when
    distilling, the seconds the teacher's outputs took (metric teacher_seconds)."""
    import mlflow

    if teacher_seconds is not None:
        mlflow.log_metric("teacher_seconds", teacher_seconds)
    mlflow.log_dict(
        {
            "source": data.source,
            "counts": data.counts(),
            "notes": list(data.notes),
            "origins": {s.name: s.origin for s in (data.train, data.val, data.test) if s is not None},
        },
        "data/summary.json",
    )
    mlflow.set_tags(
        {
            "data.source": data.source,
            VAL_FINGERPRINT_TAG: data.val.fingerprint(),
            **{f"data.{s.name}_origin": s.origin for s in (data.train, data.val, data.test) if s is not None},
            "trainer.devices": str(devices.count),
        }
    )


def _log_results(result: FitResult, data: FerData, cfg: DictConfig, run_id: str) -> None:
    """The fit's metrics, learning curves and a grid of sample validation predictions."""
    import mlflow
    from mlflow import MlflowClient

    state = result.state
    mlflow.log_metrics(
        {
            "best_epoch": float(result.best_epoch + 1),
            "epochs_trained": float(state.epochs_run),
            "train_img_per_s": result.images_per_second,
            "train_seconds": state.train_seconds,
            "model_params": float(result.model.count_params()),
        }
    )
    client = MlflowClient()
    history = {
        name.removeprefix("epoch/"): [
            m.value for m in sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)
        ]
        for name in (
            "epoch/loss",
            "epoch/accuracy",
            "epoch/macro_f1",
            "epoch/val_loss",
            "epoch/val_accuracy",
            "epoch/val_macro_f1",
        )
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.log_artifact(str(plot_curves(history, folder / "curves.png")), "figures")
        n = min(int(cfg.evaluation.sample_grid), len(data.val))
        if n:
            pred = np.argmax(predict_with_tta(result.model, data.val.x[:n]), axis=1)
            mlflow.log_artifact(
                str(
                    plot_samples(
                        data.val.x[:n], data.val.labels[:n], pred, data.class_names, "val", folder / "samples_val.png"
                    )
                ),
                "figures",
            )


def _register(
    result: FitResult, data: FerData, cfg: DictConfig, temperatures: dict[str, float]
) -> tuple[str | None, Promotion | None]:
    """Log the model with its metadata (and `temperatures`, TTA mode -> T, fitted on val) and register it."""
    from mlflow import MlflowClient

    name = registered_model_name(cfg)
    metadata = ModelMetadata(
        data.class_names,
        int(data.train.x.shape[1]),
        float(cfg.data.get("face_margin", 0.0)),
        str(cfg.model.name),
        temperatures,
    )
    info = log_keras_model(result.model, metadata, data.val.x[:4], registered_name=name or None)
    version = None if info.registered_model_version is None else str(info.registered_model_version)
    if not (name and version):
        return version, None
    return version, promote_if_better(
        MlflowClient(), name, version, cfg.mlflow.promote_metric, cfg.mlflow.promote, str(cfg.data.source)
    )


def _print_start(cfg: DictConfig, data: FerData, resume_epoch: int, devices: Devices) -> None:
    sizes = ", ".join(f"{s.name} {len(s)} ({s.origin})" for s in (data.train, data.val, data.test) if s is not None)
    print(f"fer_lab: {cfg.model.name} on {data.source}: {sizes}", flush=True)
    print(f"fer_lab: {devices.describe()}", flush=True)
    for note in data.notes:
        print(f"fer_lab: note: {note}", flush=True)
    if resume_epoch:
        print(f"fer_lab: resuming the interrupted run after epoch {resume_epoch}", flush=True)


def _print_summary(summary: TrainSummary, cfg: DictConfig) -> None:
    fit = summary.fit
    print(
        f"fer_lab: best epoch {fit.best_epoch + 1} by {cfg.trainer.monitor} "
        f"({fit.state.best:.4f}); {sum(fit.epoch_seconds):.0f}s of training at {fit.images_per_second:.0f} img/s"
    )
    for report in summary.reports.values():
        print(f"fer_lab: {report.summary()}")
    if summary.unseen_test:
        print(f"fer_lab: {summary.unseen_test.summary()}")
    name = registered_model_name(cfg)
    promotion = summary.promotion
    if summary.model_version and promotion is not None:
        alias = f", alias {CHAMPION}" if promotion.promoted else f"; {CHAMPION} stays: {promotion.reason}"
        print(f"fer_lab: registered {name} version {summary.model_version}{alias}")
    print(f"fer_lab: MLflow run {summary.run_id} in {summary.tracking_uri} (browse with `make ui`)")
