"""Optimizers, one registry entry each: the `optimizer` config group (conf/optimizer/<config>.yaml).

An entry is a function (cfg, learning_rate) -> keras optimizer, registered with the dataclass of its YAML keys;
the learning rate comes separately because a fine-tuning phase scales optimizer.learning_rate. Pass
common_options(cfg) (clipping, weight averaging) to the Keras constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from omegaconf import MISSING, DictConfig

from fer_lab.config import require
from fer_lab.registry import Registry

OPTIMIZERS: Registry[Callable[[DictConfig, float], keras.optimizers.Optimizer]] = Registry("optimizer", "name")


@dataclass
class OptimizerConfig:
    """Keys every optimizer has."""

    name: str = MISSING
    learning_rate: float = 0.001  # a fine-tuning phase multiplies it by model.fine_tune.lr_factor
    weight_decay: float | None = None
    clipnorm: float | None = None
    # null: off; e.g. 0.999: keep an exponential moving average of the weights (per step), validate and
    # checkpoint it instead of the raw weights (BatchNorm moving statistics stay the raw model's)
    ema_momentum: float | None = None


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
    momentum = cfg.ema_momentum
    require(
        momentum is None or 0 < momentum < 1,
        "optimizer.ema_momentum",
        momentum,
        "null (off) or a number in (0, 1), e.g. 0.999",
    )
    return OPTIMIZERS[cfg.name](cfg, learning_rate)


def common_options(cfg: DictConfig) -> dict:
    """Keyword arguments every Keras optimizer takes, from the keys every optimizer config has."""
    ema = {"use_ema": True, "ema_momentum": float(cfg.ema_momentum)} if cfg.ema_momentum else {}
    return {"clipnorm": cfg.clipnorm, **ema}


@OPTIMIZERS.register("adam", AdamConfig)
def adam(cfg: DictConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam; AdamW (decoupled weight decay) when weight_decay is set."""
    if cfg.weight_decay:
        return keras.optimizers.AdamW(learning_rate, weight_decay=cfg.weight_decay, **common_options(cfg))
    return keras.optimizers.Adam(learning_rate, **common_options(cfg))


@OPTIMIZERS.register("sgd", SGDConfig)
def sgd(cfg: DictConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    """SGD with (Nesterov) momentum."""
    return keras.optimizers.SGD(
        learning_rate,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
        **common_options(cfg),
    )
