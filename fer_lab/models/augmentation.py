"""In-model image augmentation on raw 0..255 pixels, active only while training.

Mixup is not a layer: the trainer mixes whole batches, reading `augmentation.mixup` (the Beta alpha).
"""

from __future__ import annotations

import warnings
from typing import Callable

import keras
from omegaconf import DictConfig

from fer_lab.config import require

BLOCK = "augmentation"  # name of the block inside models

# key: (upper bound (exclusive when the key is a fraction of the image), meaning) for the numeric keys
_RANGES = {
    "rotation": (0.5, "a fraction of a full turn in [0, 0.5]: 0.04 = up to ±14°"),
    "zoom": (1.0, "a fraction in [0, 1): 0.1 = zoom in or out by up to 10%"),
    "translation": (1.0, "a fraction of the image side in [0, 1)"),
    "contrast": (1.0, "a contrast factor in [0, 1]"),
    "random_erasing": (1.0, "a probability in [0, 1]"),
}


def augmentation_settings(cfg: DictConfig | None) -> dict:
    """Validated augmentation values (missing keys read as off) as a plain dict."""
    cfg = cfg or {}
    flip = cfg.get("flip", False)
    require(isinstance(flip, bool), "augmentation.flip", flip, "true or false")
    values = {"flip": flip}
    for key, (high, meaning) in _RANGES.items():
        value = cfg.get(key, 0.0) or 0.0
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= high
        if key in ("zoom", "translation"):
            ok = ok and value < high
        require(ok, f"augmentation.{key}", value, meaning + " (0 disables it)")
        values[key] = float(value)
    mixup = cfg.get("mixup", 0.0) or 0.0
    require(isinstance(mixup, (int, float)) and not isinstance(mixup, bool) and mixup >= 0,
            "augmentation.mixup", mixup, "a Beta alpha >= 0 (0 disables mixup; 0.2 is typical)")
    values["mixup"] = float(mixup)
    return values


def augmentation_block(cfg: DictConfig | None) -> keras.Sequential | None:
    """keras.Sequential named "augmentation" with the enabled layers, or None when all are off.

    Keras random image layers pass inputs through unchanged outside training. A model holding the block needs
    allow_jit on JAX.
    """
    s = augmentation_settings(cfg)
    layers = []
    if s["flip"]:
        layers.append(keras.layers.RandomFlip("horizontal", name="flip"))
    if s["rotation"]:
        layers.append(keras.layers.RandomRotation(s["rotation"], name="rotation"))
    if s["zoom"]:
        layers.append(keras.layers.RandomZoom(s["zoom"], name="zoom"))
    if s["translation"]:
        layers.append(keras.layers.RandomTranslation(s["translation"], s["translation"], name="translation"))
    if s["contrast"]:
        layers.append(keras.layers.RandomContrast(s["contrast"], value_range=(0, 255), name="contrast"))
    if s["random_erasing"]:
        p = s["random_erasing"]
        # factor (p, p): erase each image with probability exactly p; the patch is filled with noise.
        layers.append(keras.layers.RandomErasing(factor=(p, p), value_range=(0, 255), name="random_erasing"))
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
