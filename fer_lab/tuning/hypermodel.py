"""The KerasTuner HyperModel: search-space values -> config -> fer_lab model, trained like the trainer trains.

build(hp) samples every hyperparameter, writes the values into a copy of the config and builds and compiles
the model from it (architecture, augmentation layers, optimizer, loss). fit(hp, model, ...) reads the
training-time keys of the same config (batch size, class weighting, mixup, epochs, schedule) and trains with
fer_lab.training.fit.fit_resumable, so a trial gets the trainer's phases (head, then fine-tuning for
pretrained backbones), schedules and early stopping. The backbone family lives in the config (model group +
its search_space), so one class serves every family.
"""

from __future__ import annotations

from pathlib import Path

import keras
import keras_tuner
import numpy as np
from omegaconf import DictConfig

from fer_lab.data import FerData
from fer_lab.models import build_model
from fer_lab.training.callbacks import MlflowEpochMetrics
from fer_lab.training.checkpoint import CheckpointStore, RunState
from fer_lab.training.checks import validate_train_config
from fer_lab.training.fit import compile_model, fit_resumable
from fer_lab.training.precision import dtype_policy
from fer_lab.training.seeding import seed_everything, training_seed
from fer_lab.tuning.search_space import HyperParam, apply, declare


class FerHyperModel(keras_tuner.HyperModel):
    """Builds and trains one trial's model from `cfg` (a train config) plus the sampled `params` values.

    `data` may be None on a distributed chief, which never runs trials. `work_dir` holds the running trial's
    checkpoints (one trial at a time per process).
    """

    def __init__(self, cfg: DictConfig, params: list[HyperParam], data: FerData | None, work_dir: Path):
        super().__init__(name=f"fer_lab_{cfg.model.name}")
        self.cfg, self.params, self.data, self.work_dir = cfg, params, data, Path(work_dir)

    @property
    def trial_data(self) -> FerData:
        """The data trials train on (a distributed chief has none: it never runs trials)."""
        if self.data is None:
            raise RuntimeError("this hypermodel has no data: only workers and local searches run trials")
        return self.data

    def declare_hyperparameters(self, hp) -> None:
        declare(hp, self.params)

    def trial_config(self, values: dict) -> DictConfig:
        """The train config of a trial: the base config with the sampled values at their keys."""
        return apply(self.cfg, self.params, values)

    def build(self, hp) -> keras.Model:
        cfg = self.trial_config(declare(hp, self.params))
        seed_everything(training_seed(cfg), cfg.trainer.deterministic)
        with dtype_policy(cfg.trainer.precision):
            model = build_model(
                cfg.model,
                cfg.augmentation,
                input_shape=self.trial_data.train.x.shape[1:],
                num_classes=len(self.trial_data.class_names),
            )
            compile_model(model, cfg, float(cfg.optimizer.learning_rate))
        return model

    def fit(self, hp, model, *args, callbacks=(), epochs=None, initial_epoch=0, **kwargs) -> dict[str, float]:
        """Train `model`; return the epoch logs at its best epoch by the objective (trainer.monitor).

        Hyperband passes `epochs` and `initial_epoch` (the model then carries the weights of an earlier round);
        KerasTuner's own callbacks come in `callbacks`.
        """
        if args or kwargs:
            raise TypeError(f"FerHyperModel.fit takes the data from the config, not {args or list(kwargs)}")
        cfg = self.trial_config(hp.values)
        if epochs:
            cfg.trainer.epochs = int(epochs)
        validate_train_config(cfg)
        store, state = CheckpointStore(self.work_dir), RunState()
        store.clear()
        store.folder.mkdir(parents=True)
        if initial_epoch:
            store.save_last(model)
            state.epoch = int(initial_epoch)
        recorder = EpochLogs()
        try:
            result = fit_resumable(
                model, self.trial_data, cfg, store, state, [*callbacks, recorder, MlflowEpochMetrics()]
            )
        finally:
            store.clear()
        return recorder.logs[result.best_epoch]


class EpochLogs(keras.callbacks.Callback):
    """Keeps every epoch's logs by (global) epoch index."""

    def __init__(self):
        super().__init__()
        self.logs: dict[int, dict[str, float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.logs[epoch] = {k: float(v) for k, v in (logs or {}).items()}


def logged_metrics(cfg: DictConfig) -> set[str]:
    """Validation metric names a trial logs, from a throwaway model compiled like every trial's model."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    compile_model(model, cfg, 1e-3)
    x, y = np.zeros((2, 2), "float32"), np.eye(2, dtype="float32")
    names = model.evaluate(x, y, verbose=0, return_dict=True)
    keras.backend.clear_session()
    return {f"val_{name}" for name in names}
