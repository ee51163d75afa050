"""Model builders: raw 0..255 grayscale pixels in, class probabilities out; all preprocessing inside.

    model = build_model(cfg.model, cfg.augmentation, input_shape=(48, 48, 1), num_classes=7)
"""

from __future__ import annotations

import keras
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.models.augmentation import augmentation_block, augmentation_settings
from fer_lab.models.backbones import (APPLICATIONS, backbone_classifier, caches_head_features, has_backbone,
                                     set_backbone_trainable)
from fer_lab.models.custom_cnn import custom_cnn_features, custom_cnn_head

MODELS = ("custom_cnn", *APPLICATIONS)

__all__ = ["MODELS", "augmentation_settings", "build_model", "caches_head_features", "has_backbone",
           "set_backbone_trainable"]


def build_model(model_cfg: DictConfig, augmentation_cfg: DictConfig | None = None,
                input_shape: tuple[int, int, int] = (48, 48, 1), num_classes: int = 7) -> keras.Model:
    """An uncompiled keras.Model named after model.name; the augmentation block is active only in training.

    model.arch (default: model.name) picks the builder: custom_cnn | vgg16 | resnet50v2.

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
    if arch == "custom_cnn":
        outputs = custom_cnn_head(custom_cnn_features(x, model_cfg, size), model_cfg, num_classes)
    else:
        outputs = backbone_classifier(x, model_cfg, arch, size, num_classes)
    model = keras.Model(inputs, outputs, name=str(name or arch))
    set_backbone_trainable(model, 0)
    return model
