"""Resumable run state: last model (with optimizer state), best weights, and progress on disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
from omegaconf import DictConfig

from fer_lab.config import direction, to_plain_dict
from fer_lab.errors import FerLabError
from fer_lab.models import load_with_jit

# Keys that do not change what is trained, so changing them still resumes the same run.
_KEY_EXCLUDES = {("trainer", "resume"), ("trainer", "verbose"), ("mlflow", "tracking_uri")}


@dataclass
class RunState:
    """Progress of one training run, saved after every epoch."""

    run_id: str | None = None
    phase: str | None = None  # phase of the last completed epoch
    epoch: int = 0  # next epoch to train, counted over all phases (past an ended phase's end)
    epochs_run: int = 0  # epochs actually trained, over all phases and processes
    best: float | None = None  # best value of trainer.monitor so far
    best_epoch: int | None = None  # 0-based epoch of `best`
    train_seconds: float = 0.0  # time spent in completed epochs (validation included), over all processes


class CheckpointStore:
    """One folder per run configuration: state.json, last.keras, best.weights.h5."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.state_path = folder / "state.json"
        self.last_path = folder / "last.keras"
        self.best_path = folder / "best.weights.h5"

    @classmethod
    def for_config(cls, cfg: DictConfig) -> CheckpointStore:
        """The store of this exact configuration, under paths.checkpoints/<experiment>/<config hash>."""
        return cls(Path(cfg.paths.checkpoints) / str(cfg.mlflow.experiment) / config_key(cfg))

    def load(self) -> RunState:
        if not self.state_path.exists():
            return RunState()
        try:
            return RunState(**json.loads(self.state_path.read_text()))
        except (ValueError, TypeError) as err:
            raise FerLabError(
                f"checkpoint state {self.state_path} is unreadable ({err}); delete "
                f"{self.folder} to start this run afresh, or set trainer.resume=false"
            ) from None

    def save(self, state: RunState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state)))
        os.replace(tmp, self.state_path)

    def save_last(self, model: keras.Model) -> None:
        tmp = self.folder / "last.tmp.keras"
        model.save(tmp)
        os.replace(tmp, self.last_path)

    def load_last(self) -> keras.Model:
        return load_with_jit(lambda: keras.saving.load_model(self.last_path))

    def load_best(self, model: keras.Model) -> None:
        """The best weights into `model`; the optimizer state saved with them, possibly of an earlier phase with
        fewer trainable weights, is not needed."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(self.best_path)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def config_key(cfg: DictConfig) -> str:
    """Short hash of the resolved config minus keys that do not change the trained model."""
    plain = to_plain_dict(cfg)
    plain.pop("hydra", None)
    for section, key in _KEY_EXCLUDES:
        plain.get(section, {}).pop(key, None)
    return hashlib.sha1(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Checkpointing(keras.callbacks.Callback):
    """After each epoch: keep the best weights by a validation metric, save the last model and the state, add the
    run's training minutes so far to the epoch's logs (`train_minutes`, a resumed run's earlier processes included),
    and stop once `patience` epochs of this phase pass without improvement (0: never)."""

    def __init__(
        self, store: CheckpointStore, state: RunState, phase: str, phase_start: int, monitor: str, patience: int
    ):
        super().__init__()
        self.store, self.state, self.phase, self.phase_start = store, state, phase, phase_start
        self.monitor, self.patience = monitor, patience
        self.sign = -1.0 if direction(monitor) == "min" else 1.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        self.state.train_seconds += time.perf_counter() - self._epoch_start
        self.state.epochs_run += 1
        logs["train_minutes"] = self.state.train_seconds / 60  # cumulative, logged as epoch/train_minutes
        if self.monitor not in logs:
            raise FerLabError(
                f"trainer.monitor={self.monitor} is not a logged metric; choose one of: "
                f"{', '.join(sorted(k for k in logs if k.startswith('val_')))}"
            )
        value = float(logs[self.monitor])
        if self.state.best is None or self.sign * value > self.sign * self.state.best:
            self.state.best, self.state.best_epoch = value, epoch
            self.model.save_weights(self.store.best_path)
        assert self.state.best_epoch is not None  # set above on the first epoch
        self.state.phase, self.state.epoch = self.phase, epoch + 1
        self.store.save_last(self.model)
        self.store.save(self.state)
        since = epoch - max(self.state.best_epoch, self.phase_start - 1)
        if self.patience and since >= self.patience:
            self.model.stop_training = True
