"""The body / head split of a fer_lab model, for training the head alone and then fine-tuning the body.

The head is everything after the pooling layer that flattens the feature map ("gap" or "flatten"); the body is
the pretrained backbone when the model has one, else every layer up to that pooling layer.
"""

from __future__ import annotations

import keras

from fer_lab.config import require
from fer_lab.errors import FerLabError
from fer_lab.models.backbones import BACKBONE, has_backbone

HEAD_INPUTS = ("gap", "flatten")  # layer names whose output feeds the head


def head_input(model: keras.Model) -> str:
    """The name of the layer whose output feeds the head."""
    names = [layer.name for layer in model.layers if layer.name in HEAD_INPUTS]
    if not names:
        raise FerLabError(
            f"model {model.name!r} has no {' or '.join(HEAD_INPUTS)} layer before its head, so its "
            "head cannot train alone: set model.fine_tune=null"
        )
    return names[-1]


def body_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers fine-tuning unfreezes, bottom to top: the backbone's, else the weighted layers before the head."""
    if has_backbone(model):
        return list(model.get_layer(BACKBONE).layers)
    layers = model.layers[: [layer.name for layer in model.layers].index(head_input(model))]
    return [layer for layer in layers if layer.weights and not isinstance(layer, keras.Sequential)]


def set_body_trainable(model: keras.Model, trainable_top_layers: int | None, train_batchnorm: bool = False) -> None:
    """Freeze the body (None or 0), unfreeze its top N layers (N > 0) or all of it (-1).

    N counts body layers from the top, as in the Keras fine-tuning guide. BatchNormalization layers stay frozen,
    running in inference mode with the statistics of the data the body learned from, unless `train_batchnorm`:
    then the unfrozen ones learn the new data's statistics, scale and offset. The head stays trainable.
    Recompile afterwards.
    """
    n = trainable_top_layers or 0
    require(
        isinstance(n, int) and n >= -1,
        "model.fine_tune.unfreeze_top",
        trainable_top_layers,
        "-1 (whole body), 0 (frozen) or the number of top body layers to fine-tune",
    )
    layers = body_layers(model)
    if has_backbone(model):
        model.get_layer(BACKBONE).trainable = n != 0
        if n == 0:
            return
    first = 0 if n == -1 else max(len(layers) - n, 0) if n else len(layers)
    for i, layer in enumerate(layers):
        layer.trainable = i >= first and (train_batchnorm or not isinstance(layer, keras.layers.BatchNormalization))
