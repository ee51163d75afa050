"""Model builders: raw 0..255 grayscale pixels in, class probabilities out; all preprocessing inside.

    model = build_model(cfg.model, cfg.augmentation, input_shape=(48, 48, 1), num_classes=7)
"""

from __future__ import annotations

import keras
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.models.augmentation import allow_jit, augmentation_block, augmentation_settings, load_with_jit
from fer_lab.models.backbones import (APPLICATIONS, backbone_classifier, caches_head_features, has_backbone,
                                     set_backbone_trainable)
from fer_lab.models.custom_cnn import custom_cnn_features, custom_cnn_head

MODELS = ("custom_cnn", *APPLICATIONS)
CROP = "input_crop"  # name of the model.input_crop layer (TTA looks for it)

__all__ = ["CROP", "MODELS", "augmentation_settings", "build_model", "caches_head_features", "has_backbone",
           "load_with_jit", "set_backbone_trainable"]


def input_crop(model_cfg: DictConfig, image_size: int) -> int | None:
    """The validated model.input_crop side in pixels, or None when the model sees the whole image."""
    crop = model_cfg.get("input_crop")
    require(crop is None or (isinstance(crop, int) and not isinstance(crop, bool)
                             and image_size // 2 <= crop < image_size),
            "model.input_crop", crop, f"null or a side in pixels in [{image_size // 2}, {image_size}), e.g. 42")
    return crop


def build_model(model_cfg: DictConfig, augmentation_cfg: DictConfig | None = None,
                input_shape: tuple[int, int, int] = (48, 48, 1), num_classes: int = 7) -> keras.Model:
    """An uncompiled keras.Model named after model.name; the augmentation block is active only in training.

    model.arch (default: model.name) picks the builder: custom_cnn | vgg16 | resnet50v2.

    model.input_crop (pixels, optional) center-crops every image to that side after augmentation, in training
    and inference alike: per-image random translations then make it a random crop, and the conv stack runs on
    the smaller image (42 of 48 px: ~27% less compute per image).

    A backbone starts frozen (set_backbone_trainable(model, 0)); unfreeze layers before compiling.
    """
    name = model_cfg.get("name")
    arch = model_cfg.get("arch") or name
    require(arch in MODELS, "model.arch" if "arch" in model_cfg else "model.name", arch,
            " | ".join(MODELS) + " (or choose a config with model=<config>, e.g. model=cnn_3block)")
    size = int(input_shape[0])
    if tuple(input_shape) != (size, size, 1):
        raise ValueError(f"input_shape must be (S, S, 1) grayscale, got {tuple(input_shape)}")
    caches_head_features(model_cfg, augmentation_cfg)  # rejects a bad model.fine_tune.cache_features before training

    inputs = keras.Input(shape=(size, size, 1), dtype="float32", name="pixels")
    augment = augmentation_block(augmentation_cfg)
    x = augment(inputs) if augment is not None else inputs
    crop = input_crop(model_cfg, size)
    if crop:
        x = keras.layers.CenterCrop(crop, crop, name=CROP)(x)
        size = crop
    if arch == "custom_cnn":
        outputs = custom_cnn_head(custom_cnn_features(x, model_cfg, size), model_cfg, num_classes)
    else:
        outputs = backbone_classifier(x, model_cfg, arch, size, num_classes)
    model = keras.Model(inputs, outputs, name=str(name or arch))
    set_backbone_trainable(model, 0)
    return allow_jit(model)
