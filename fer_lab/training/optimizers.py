"""Optimizer and learning-rate schedule from the `optimizer` and `schedule` config groups."""

from __future__ import annotations

import math

import keras
from omegaconf import DictConfig

from fer_lab.config import direction
from fer_lab.training.callbacks import TimeBudget


def make_optimizer(cfg: DictConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam (AdamW when weight_decay is set) or SGD with (Nesterov) momentum."""
    common = {"learning_rate": learning_rate, "clipnorm": cfg.get("clipnorm")}
    if cfg.name == "adam":
        if cfg.get("weight_decay"):
            return keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **common)
        return keras.optimizers.Adam(**common)
    return keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov,
                                weight_decay=cfg.get("weight_decay"), **common)


def schedule_callbacks(cfg: DictConfig, base_lr: float, epochs: int, monitor: str,
                       budget: TimeBudget | None = None) -> list:
    """Callbacks that drive the learning rate: plateau reduction, per-epoch cosine, cosine over the time
    `budget` (trainer.max_minutes), or none."""
    if cfg.name == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=direction(monitor), factor=cfg.factor,
                                                  patience=cfg.patience, min_lr=cfg.min_lr, verbose=0)]
    if cfg.name == "cosine":
        return [keras.callbacks.LearningRateScheduler(
            lambda epoch: cosine_lr(epoch, base_lr, epochs, cfg.warmup_epochs, cfg.min_lr_ratio))]
    if cfg.name == "cosine_budget":
        return [BudgetCosine(budget, base_lr, cfg.warmup_fraction, cfg.min_lr_ratio)]
    return []


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
        self.model.optimizer.learning_rate = budget_cosine_lr(used, self.base_lr, self.warmup_fraction,
                                                               self.min_ratio)


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
