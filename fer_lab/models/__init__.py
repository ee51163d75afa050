"""Model builders: raw 0..255 grayscale pixels in, class probabilities out; all preprocessing inside.

    model = build_model(cfg.model, cfg.augmentation, input_shape=(48, 48, 1), num_classes=7)

model.arch picks the builder registered in MODELS (fer_lab.models.arch); every module of this package is
imported, so a new module registering an architecture or an augmentation needs no edit here.
"""

from __future__ import annotations

import keras
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.models.arch import MODELS
from fer_lab.models.augmentation import allow_jit, augmentation_block, augmentation_settings, load_with_jit
from fer_lab.models.backbones import caches_head_features, has_backbone
from fer_lab.models.body import body_layers, head_input, set_body_trainable
from fer_lab.registry import import_submodules

CROP = "input_crop"  # name of the model.input_crop layer (TTA looks for it)

__all__ = [
    "CROP",
    "MODELS",
    "augmentation_settings",
    "body_layers",
    "build_model",
    "caches_head_features",
    "has_backbone",
    "head_input",
    "load_with_jit",
    "set_body_trainable",
]

import_submodules(__name__)


def build_model(
    model_cfg: DictConfig | dict,
    augmentation_cfg: DictConfig | dict | None = None,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    num_classes: int = 7,
) -> keras.Model:
    """An uncompiled keras.Model named after model.name; the augmentation block is active only in training.

    model.arch (default: model.name) picks the architecture; the config is checked against its schema.
    model.input_crop (pixels, optional) center-crops every image to that side after augmentation, in training
    and inference alike. A backbone starts frozen (set_body_trainable(model, 0)); unfreeze layers before
    compiling.
    """
    arch = model_cfg.get("arch") or model_cfg.get("name")
    build = MODELS[arch]
    cfg = MODELS.config(model_cfg, arch)
    size = int(input_shape[0])
    if tuple(input_shape) != (size, size, 1):
        raise ValueError(f"input_shape must be (S, S, 1) grayscale, got {tuple(input_shape)}")
    caches_head_features(cfg, augmentation_cfg)  # rejects a bad model.fine_tune.cache_features before training

    inputs = keras.Input(shape=(size, size, 1), dtype="float32", name="pixels")
    augment = augmentation_block(augmentation_cfg)
    x = augment(inputs) if augment is not None else inputs
    crop = cfg.input_crop
    if crop is not None:
        require(
            size // 2 <= crop < size,
            "model.input_crop",
            crop,
            f"null or a side in pixels in [{size // 2}, {size}), e.g. 42",
        )
        x = keras.layers.CenterCrop(crop, crop, name=CROP)(x)
        size = crop
    model = keras.Model(inputs, build(x, cfg, size, num_classes), name=str(cfg.name))
    if has_backbone(model):
        set_body_trainable(model, 0)
    return allow_jit(model)
