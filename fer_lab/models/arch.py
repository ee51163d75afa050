"""The model architectures (`model.arch`): each a builder registered in MODELS with its config dataclass.

    @MODELS.register("my_net", MyNetConfig)        # MyNetConfig extends ModelConfig
    def my_net(x, cfg, image_size, num_classes):
        ...                                         # x: augmented (and cropped) raw 0..255 pixels
        return classifier_head(x, ...)              # softmax probabilities, float32, layer "predictions"

A module defining one in fer_lab/models/ registers itself; conf/model/my_net.yaml extends `my_net_schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import keras
from omegaconf import DictConfig

from fer_lab.registry import Registry


class Builder(Protocol):
    def __call__(self, x: keras.KerasTensor, cfg: DictConfig, image_size: int, num_classes: int):
        """The class probabilities for the image batch `x` (image_size x image_size x 1, raw 0..255 pixels)."""


MODELS: Registry[Builder] = Registry("model", "arch")


@dataclass
class ModelConfig:
    """The keys every architecture has; an architecture's config dataclass extends it."""

    arch: str = ""                  # the registered architecture (set by its schema)
    name: str = "${.arch}"          # config name: names MLflow runs and the registered model's metadata
    # null, or a side in pixels in [S/2, S): centre-crop after augmentation, in training and inference alike;
    # with random translation a random crop (42 of 48 px: ~27% less compute per image)
    input_crop: Optional[int] = None
