"""In-model image augmentation on raw 0..255 pixels, active only while training.

Each key of the augmentation config is registered in AUGMENTATIONS with its check and the layer it adds;
adding one is a register_augmentation call in a module of fer_lab/models/ plus the key in conf/augmentation/:

    register_augmentation("brightness", 0.0, "a factor in [0, 1]", in_range(1.0),
                          lambda factor, name: keras.layers.RandomBrightness(factor, (0, 255), name=name))

Mixup is not a layer: the trainer mixes whole batches, reading `augmentation.mixup` (the Beta alpha).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.errors import FerLabError
from fer_lab.registry import Registry

BLOCK = "augmentation"  # name of the block inside models


@dataclass(frozen=True)
class Augmentation:
    """One key of the augmentation config: its default (off), its check, and the layer it adds when set."""

    default: bool | float
    expected: str  # the valid values, for the error message
    valid: Callable[[Any], bool]
    layer: Callable[[Any, str], keras.layers.Layer] | None  # (value, layer name) -> layer; None: not a layer


AUGMENTATIONS: Registry[Augmentation] = Registry("augmentation", "")  # keyed by the config key itself


def register_augmentation(
    key: str,
    default: bool | float,
    expected: str,
    valid: Callable[[Any], bool],
    layer: Callable[[Any, str], keras.layers.Layer] | None = None,
) -> None:
    """Register config key `augmentation.<key>`; the block adds `layer(value, key)` when the value is not off."""
    AUGMENTATIONS.register(key)(Augmentation(default, expected, valid, layer))


def in_range(high: float | None = None, below: bool = False) -> Callable[[Any], bool]:
    """A check for a number in [0, high] ([0, high) with below; >= 0 without high)."""

    def valid(value) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            return False
        return high is None or (value < high if below else value <= high)

    return valid


register_augmentation(
    "flip",
    False,
    "true or false",
    lambda v: isinstance(v, bool),
    lambda _, name: keras.layers.RandomFlip("horizontal", name=name),
)
register_augmentation(
    "rotation",
    0.0,
    "a fraction of a full turn in [0, 0.5]: 0.04 = up to ±14°",
    in_range(0.5),
    lambda v, name: keras.layers.RandomRotation(v, name=name),
)
register_augmentation(
    "zoom",
    0.0,
    "a fraction in [0, 1): 0.1 = zoom in or out by up to 10%",
    in_range(1.0, below=True),
    lambda v, name: keras.layers.RandomZoom(v, name=name),
)
register_augmentation(
    "translation",
    0.0,
    "a fraction of the image side in [0, 1)",
    in_range(1.0, below=True),
    lambda v, name: keras.layers.RandomTranslation(v, v, name=name),
)
register_augmentation(
    "contrast",
    0.0,
    "a contrast factor in [0, 1]",
    in_range(1.0),
    lambda v, name: keras.layers.RandomContrast(v, value_range=(0, 255), name=name),
)
# factor (p, p): erase each image with probability exactly p; the patch is filled with noise
register_augmentation(
    "random_erasing",
    0.0,
    "a probability in [0, 1]",
    in_range(1.0),
    lambda p, name: keras.layers.RandomErasing(factor=(p, p), value_range=(0, 255), name=name),
)
register_augmentation("mixup", 0.0, "a Beta alpha >= 0 (0.2 is typical)", in_range())


def augmentation_settings(cfg: DictConfig | dict | None) -> dict[str, bool | float]:
    """Every registered augmentation's checked value (missing keys read as off) as a plain dict."""
    cfg = cfg or {}
    unknown = [key for key in cfg if key not in AUGMENTATIONS]
    if unknown:
        raise FerLabError(
            f"unknown augmentation key augmentation.{unknown[0]!s}: the keys are "
            f"{' | '.join(AUGMENTATIONS.names())}. Fix the name, or register the augmentation "
            "(fer_lab.models.augmentation.register_augmentation)"
        )
    values = {}
    for key in AUGMENTATIONS.names():
        entry, value = AUGMENTATIONS[key], cfg.get(key)
        value = entry.default if value is None else value
        off = str(entry.default).lower()
        require(entry.valid(value), f"augmentation.{key}", value, f"{entry.expected} ({off} turns it off)")
        values[key] = value if isinstance(value, bool) else float(value)
    return values


def augmentation_block(cfg: DictConfig | dict | None) -> keras.Sequential | None:
    """keras.Sequential named "augmentation" with the enabled layers, or None when all are off.

    Keras random image layers pass inputs through unchanged outside training. A model holding the block needs
    allow_jit on JAX.
    """
    makers = ((AUGMENTATIONS[key].layer, value, key) for key, value in augmentation_settings(cfg).items() if value)
    layers = [make(value, key) for make, value, key in makers if make is not None]
    return keras.Sequential(layers, name=BLOCK) if layers else None


def allow_jit(model: keras.Model) -> keras.Model:
    """On JAX, let Keras jit the steps of `model` (built or loaded) despite its augmentation block; returns `model`.

    Keras marks its geometric random layers as not XLA-compatible (TF's image op), which turns jit off for every
    step of a model holding one; a loaded model has settled on no jit before it can be marked. JAX traces them
    fine; un-jitted, custom_cnn trained 1.5x slower on 2 CPU cores. Load saved models with load_with_jit.
    """
    if keras.backend.backend() != "jax":
        return model
    block = next((layer for layer in model.layers if layer.name == BLOCK), None)
    if block is None:
        return model
    for layer in block.layers:
        layer.supports_jit = True
    model.jit_compile = True  # Keras falls back to False (with a warning) if another layer cannot be jitted
    return model


def load_with_jit(load: Callable[[], keras.Model]) -> keras.Model:
    """allow_jit(load()), without the warning Keras gives while loading that the model cannot be jitted."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Model doesn't support `jit_compile=True`")
        model = load()
    return allow_jit(model)
