"""Learning-rate schedules, one registry entry each: the `schedule` config group (conf/schedule/<config>.yaml).

An entry is a function (cfg, phase: SchedulePhase) -> Keras callbacks that drive the learning rate during one
training phase, registered with the dataclass of its YAML keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
from omegaconf import MISSING, DictConfig

from fer_lab.config import direction
from fer_lab.errors import FerLabError
from fer_lab.registry import Registry
from fer_lab.training.callbacks import TimeBudget


@dataclass(frozen=True)
class SchedulePhase:
    """What a schedule may depend on: the phase's base learning rate and last epoch, the monitored metric and
    the run's time budget (None without trainer.max_minutes)."""

    base_lr: float
    epochs: int
    monitor: str
    budget: TimeBudget | None = None


SCHEDULES: Registry[Callable[[DictConfig, SchedulePhase], list]] = Registry("schedule", "name")


def schedule_callbacks(
    cfg: DictConfig, base_lr: float, epochs: int, monitor: str, budget: TimeBudget | None = None
) -> list[keras.callbacks.Callback]:
    """The callbacks of the schedule `cfg` (a `schedule` config) names, for a phase ending at epoch `epochs`."""
    cfg = SCHEDULES.config(cfg)
    return SCHEDULES[cfg.name](cfg, SchedulePhase(base_lr, epochs, monitor, budget))


def check_schedule(cfg: DictConfig) -> None:
    """Build the schedule of train config `cfg` once, so that one it cannot drive (e.g. cosine_budget without
    trainer.max_minutes) fails before training starts."""
    max_minutes = cfg.trainer.get("max_minutes")
    schedule_callbacks(
        cfg.schedule,
        float(cfg.optimizer.learning_rate),
        int(cfg.trainer.epochs),
        str(cfg.trainer.monitor),
        TimeBudget(float(max_minutes)) if max_minutes else None,
    )


@dataclass
class ConstantConfig:
    name: str = MISSING


@SCHEDULES.register("constant", ConstantConfig)
def constant(cfg: DictConfig, phase: SchedulePhase) -> list:
    """The optimizer's learning rate throughout."""
    return []


@dataclass
class PlateauConfig:
    name: str = MISSING
    factor: float = 0.5
    patience: int = 3
    min_lr: float = 1.0e-6


@SCHEDULES.register("plateau", PlateauConfig)
def plateau(cfg: DictConfig, phase: SchedulePhase) -> list:
    """Multiply the learning rate by `factor` after `patience` epochs without the monitored metric improving."""
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor=phase.monitor,
            mode=direction(phase.monitor),
            factor=cfg.factor,
            patience=cfg.patience,
            min_lr=cfg.min_lr,
            verbose=0,
        )
    ]


@dataclass
class CosineConfig:
    name: str = MISSING
    warmup_epochs: int = 1
    min_lr_ratio: float = 0.01


@SCHEDULES.register("cosine", CosineConfig)
def cosine(cfg: DictConfig, phase: SchedulePhase) -> list:
    """Per-epoch cosine decay to base_lr * min_lr_ratio at the phase's last epoch, after a linear warmup."""
    return [
        keras.callbacks.LearningRateScheduler(
            lambda epoch: cosine_lr(epoch, phase.base_lr, phase.epochs, cfg.warmup_epochs, cfg.min_lr_ratio)
        )
    ]


@dataclass
class CosineBudgetConfig:
    name: str = MISSING
    warmup_fraction: float = 0.03
    min_lr_ratio: float = 0.01


@SCHEDULES.register("cosine_budget", CosineBudgetConfig)
def cosine_budget(cfg: DictConfig, phase: SchedulePhase) -> list:
    """Cosine decay over the time budget trainer.max_minutes, set before every batch (BudgetCosine)."""
    if phase.budget is None:
        raise FerLabError(
            "schedule=cosine_budget needs a time budget: set trainer.max_minutes=<minutes> (the "
            "schedule spans it), or choose another schedule"
        )
    return [BudgetCosine(phase.budget, phase.base_lr, cfg.warmup_fraction, cfg.min_lr_ratio)]


class BudgetCosine(keras.callbacks.Callback):
    """Sets the learning rate before every batch from the share of the time budget used so far: linear warmup
    over `warmup_fraction` of it, then cosine decay to base_lr * min_ratio when the budget runs out.

    The schedule thus spans whatever number of epochs the budget holds on the machine at hand.
    """

    def __init__(self, budget: TimeBudget, base_lr: float, warmup_fraction: float, min_ratio: float):
        super().__init__()
        self.budget, self.base_lr = budget, base_lr
        self.warmup_fraction, self.min_ratio = warmup_fraction, min_ratio

    def on_train_batch_begin(self, batch, logs=None):
        used = self.budget.used_seconds() / self.budget.budget
        self.model.optimizer.learning_rate = budget_cosine_lr(used, self.base_lr, self.warmup_fraction, self.min_ratio)


def cosine_lr(epoch: int, base_lr: float, epochs: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup for `warmup` epochs, then cosine decay to base_lr * min_ratio at the last epoch."""
    if epoch < warmup:
        return base_lr * (epoch + 1) / (warmup + 1)
    return _cosine((epoch - warmup) / max(1, epochs - warmup - 1), base_lr, min_ratio)


def budget_cosine_lr(used: float, base_lr: float, warmup: float, min_ratio: float) -> float:
    """Learning rate once a share `used` of the time budget is spent: linear warmup over the first `warmup`
    share, then cosine decay to base_lr * min_ratio at used = 1."""
    if used < warmup:
        return base_lr * max(used / warmup, 0.01)
    return _cosine((used - warmup) / (1 - warmup), base_lr, min_ratio)


def _cosine(progress: float, base_lr: float, min_ratio: float) -> float:
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress)))))
