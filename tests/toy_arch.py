"""A toy architecture registered from outside fer_lab: what a new model.arch needs (tests/test_extending.py)."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from fer_lab.models.arch import MODELS, ModelConfig
from fer_lab.models.head import classifier_head


@dataclass
class ToyConfig(ModelConfig):
    filters: int = 4  # channels of the single conv layer


@MODELS.register("toy", ToyConfig)
def toy(x, cfg, image_size: int, num_classes: int):
    """Rescale, one conv, global average pooling, softmax."""
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    x = keras.layers.Conv2D(cfg.filters, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return classifier_head(x, [], 0.0, None, num_classes)
