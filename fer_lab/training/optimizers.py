"""Optimizers, one registry entry each: the `optimizer` config group (conf/optimizer/<config>.yaml).

An entry is a function (cfg, learning_rate) -> keras optimizer, registered with the dataclass of its YAML keys;
the learning rate comes separately because a fine-tuning phase scales optimizer.learning_rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import keras
from omegaconf import MISSING, DictConfig

from fer_lab.registry import Registry

OPTIMIZERS: Registry[Callable[[DictConfig, float], keras.optimizers.Optimizer]] = Registry("optimizer", "name")


@dataclass
class OptimizerConfig:
    """Keys every optimizer has."""

    name: str = MISSING
    learning_rate: float = 0.001      # a fine-tuning phase multiplies it by model.fine_tune.lr_factor
    weight_decay: Optional[float] = None
    clipnorm: Optional[float] = None


@dataclass
class AdamConfig(OptimizerConfig):
    """Adam has the common keys only."""


@dataclass
class SGDConfig(OptimizerConfig):
    learning_rate: float = 0.01
    momentum: float = 0.9
    nesterov: bool = True


def make_optimizer(cfg: DictConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    """The optimizer `cfg` (an `optimizer` config) names, at `learning_rate`."""
    cfg = OPTIMIZERS.config(cfg)
    return OPTIMIZERS[cfg.name](cfg, learning_rate)


@OPTIMIZERS.register("adam", AdamConfig)
def adam(cfg: DictConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam; AdamW (decoupled weight decay) when weight_decay is set."""
    if cfg.weight_decay:
        return keras.optimizers.AdamW(learning_rate, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)
    return keras.optimizers.Adam(learning_rate, clipnorm=cfg.clipnorm)


@OPTIMIZERS.register("sgd", SGDConfig)
def sgd(cfg: DictConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    """SGD with (Nesterov) momentum."""
    return keras.optimizers.SGD(learning_rate, momentum=cfg.momentum, nesterov=cfg.nesterov,
                                weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)
