"""A VGG-style CNN trained from scratch: Rescaling(1/255), conv blocks, then the classifier head."""

from __future__ import annotations

import keras
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.models.head import bn_momentum, check_head, classifier_head, l2_regularizer

POOLINGS = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}
GLOBAL_POOLS = ("flatten", "avg")


def custom_cnn_features(x, cfg: DictConfig, image_size: int):
    """Rescale raw pixels to [0, 1] and apply the conv blocks of `cfg` (a custom_cnn model config)."""
    blocks = list(cfg.blocks or [])
    require(len(blocks) > 0, "model.blocks", cfg.blocks, "a non-empty list of {filters, convs} blocks")
    require(image_size // 2 ** len(blocks) >= 1, "model.blocks", f"<{len(blocks)} blocks>",
            f"at most {image_size.bit_length() - 1} blocks for {image_size}px images "
            "(each block halves the image side)")
    kernel = cfg.get("kernel_size", 3)
    require(isinstance(kernel, int) and kernel >= 1, "model.kernel_size", kernel, "a positive integer, e.g. 3")
    pooling = cfg.get("pooling", "max")
    require(pooling in POOLINGS, "model.pooling", pooling, " | ".join(POOLINGS))
    dropout = cfg.get("block_dropout", 0.0) or 0.0
    require(isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0, "model.block_dropout", dropout,
            "a number in [0, 1)")
    batch_norm = bool(cfg.get("batch_norm", True))
    momentum = bn_momentum(cfg)
    activation = _activation(cfg.get("activation", "relu"))
    regularizer = l2_regularizer(cfg.get("l2", 0.0))

    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    for b, block in enumerate(blocks, start=1):
        filters, convs = block.get("filters"), block.get("convs", 1)
        require(isinstance(filters, int) and filters > 0, f"model.blocks[{b - 1}].filters", filters,
                "a positive integer")
        require(isinstance(convs, int) and convs > 0, f"model.blocks[{b - 1}].convs", convs, "a positive integer")
        for c in range(1, convs + 1):
            x = keras.layers.Conv2D(filters, kernel, padding="same", use_bias=not batch_norm,
                                    kernel_regularizer=regularizer, name=f"block{b}_conv{c}")(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(momentum=momentum, name=f"block{b}_bn{c}")(x)
            x = keras.layers.Activation(activation, name=f"block{b}_act{c}")(x)
        x = POOLINGS[pooling](2, name=f"block{b}_pool")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"block{b}_dropout")(x)
    return x


def custom_cnn_head(x, cfg: DictConfig, num_classes: int):
    """Flatten (or global-average) the last feature map, then the dense layers and softmax."""
    global_pool = cfg.get("global_pool", "flatten")
    require(global_pool in GLOBAL_POOLS, "model.global_pool", global_pool, " | ".join(GLOBAL_POOLS))
    units, dropout = check_head(cfg.get("dense", []), cfg.get("dense_dropout", 0.0),
                                "model.dense", "model.dense_dropout")
    if global_pool == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return classifier_head(x, units, dropout, l2_regularizer(cfg.get("l2", 0.0)), num_classes,
                           activation=_activation(cfg.get("activation", "relu")),
                           batch_norm=bool(cfg.get("batch_norm", True)), momentum=bn_momentum(cfg))


def _activation(name: str) -> str:
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        require(False, "model.activation", name, "a Keras activation name: relu | elu | gelu | swish | ...")
    return name
