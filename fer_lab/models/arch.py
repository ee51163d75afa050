"""The model architectures (`model.arch`): each a builder registered in MODELS with its config dataclass.

    @MODELS.register("my_net", MyNetConfig)        # MyNetConfig extends ModelConfig
    def my_net(x, cfg, image_size, num_classes):
        ...                                         # x: augmented (and cropped) raw 0..255 pixels
        return classifier_head(x, ...)              # softmax probabilities, float32, layer "predictions"

A module defining one in fer_lab/models/ registers itself; conf/model/my_net.yaml extends `my_net_schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import keras
from omegaconf import DictConfig

from fer_lab.registry import Registry


class Builder(Protocol):
    def __call__(self, x: keras.KerasTensor, cfg: DictConfig, image_size: int, num_classes: int):
        """The class probabilities for the image batch `x` (image_size x image_size x 1, raw 0..255 pixels)."""


MODELS: Registry[Builder] = Registry("model", "arch")


@dataclass
class FineTuneConfig:
    """Two training phases for a pretrained model (read by the trainer): first `head_epochs` epochs train the head
    with the body (a backbone, or every layer before the head) frozen; then its top `unfreeze_top` layers (-1 =
    all) are unfrozen, BatchNorm kept frozen unless train_batchnorm, and the model is recompiled at
    learning_rate * lr_factor for the remaining trainer.epochs. With fine_tune=null, or without pretrained weights,
    the model trains in one phase."""

    head_epochs: int = 5
    unfreeze_top: int = -1
    lr_factor: float = 0.1
    # let the unfrozen BatchNorm layers learn the new data's statistics (for data unlike the source's, e.g. lab
    # photos after FER-2013) instead of keeping the source's
    train_batchnorm: bool = False
    # train the head epochs on body features computed once: auto (when the augmentation has no random
    # layers and mixup is 0, e.g. augmentation=none) | true (require it) | false
    cache_features: Any = "auto"


@dataclass
class ModelConfig:
    """The keys every architecture has; an architecture's config dataclass extends it."""

    arch: str = ""  # the registered architecture (set by its schema)
    name: str = "${.arch}"  # config name: names MLflow runs and the registered model's metadata
    # null, or a side in pixels in [S/2, S): centre-crop after augmentation, in training and inference alike;
    # with random translation a random crop (42 of 48 px: ~27% less compute per image)
    input_crop: int | None = None
    # start from a trained fer_lab model of the same architecture: models:/name@alias, models:/name/3,
    # runs:/<id>/model, a .keras file or `bundled`. Every layer's weights are copied; the head's only when the
    # class names match (reordered if needed), else it starts fresh
    init_from: str | None = None
    fine_tune: FineTuneConfig | None = field(default_factory=FineTuneConfig)  # null: one phase
