"""Optimizer and learning-rate schedule from the `optimizer` and `schedule` config groups."""

from __future__ import annotations

import math

import keras
from omegaconf import DictConfig


def make_optimizer(cfg: DictConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam (AdamW when weight_decay is set) or SGD with (Nesterov) momentum."""
    common = {"learning_rate": learning_rate, "clipnorm": cfg.get("clipnorm")}
    if cfg.name == "adam":
        if cfg.get("weight_decay"):
            return keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **common)
        return keras.optimizers.Adam(**common)
    return keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov,
                                weight_decay=cfg.get("weight_decay"), **common)


def schedule_callbacks(cfg: DictConfig, base_lr: float, epochs: int, monitor: str) -> list:
    """Callbacks that drive the learning rate: plateau reduction, per-epoch cosine, or none."""
    if cfg.name == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=_mode(monitor), factor=cfg.factor,
                                                  patience=cfg.patience, min_lr=cfg.min_lr, verbose=0)]
    if cfg.name == "cosine":
        return [keras.callbacks.LearningRateScheduler(
            lambda epoch: cosine_lr(epoch, base_lr, epochs, cfg.warmup_epochs, cfg.min_lr_ratio))]
    return []


def cosine_lr(epoch: int, base_lr: float, epochs: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup for `warmup` epochs, then cosine decay to base_lr * min_ratio at the last epoch."""
    if epoch < warmup:
        return base_lr * (epoch + 1) / (warmup + 1)
    progress = (epoch - warmup) / max(1, epochs - warmup - 1)
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _mode(monitor: str) -> str:
    return "min" if monitor.endswith("loss") else "max"
