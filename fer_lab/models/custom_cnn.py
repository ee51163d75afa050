"""custom_cnn: a VGG-style CNN trained from scratch: Rescaling(1/255), conv blocks, then the classifier head."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import keras
from omegaconf import MISSING, DictConfig

from fer_lab.config import require
from fer_lab.models.arch import MODELS, ModelConfig
from fer_lab.models.head import check_head, classifier_head, l2_regularizer


class Pooling(enum.StrEnum):
    max = "max"
    avg = "avg"


class GlobalPool(enum.StrEnum):
    flatten = "flatten"
    avg = "avg"


@dataclass
class CustomCnnConfig(ModelConfig):
    # the conv blocks, e.g. [{filters: 32, convs: 2}, {filters: 64}]: each `convs` (default 1) x (Conv2D(filters)
    # [+BN] + activation), then 2x2 pooling (halving the side) and dropout
    blocks: list[dict[str, int]] = MISSING
    kernel_size: int = 3  # square conv kernel side
    batch_norm: bool = True  # BatchNormalization after every conv and hidden dense layer
    # moving-statistics momentum in (0, 1); Keras' 0.99 needs ~1000 steps before the moving variance forgets its
    # initial 1.0, and inference-mode outputs are broken until then
    bn_momentum: float = 0.9
    activation: str = "relu"  # any Keras activation name (relu, elu, gelu, swish, ...)
    pooling: Pooling = Pooling.max  # the 2x2 downsampling after every block
    block_dropout: float = 0.0  # dropout after every block's pooling, in [0, 1); 0 disables
    l2: float = 0.0  # L2 weight decay on conv and dense kernels; 0 disables
    global_pool: GlobalPool = GlobalPool.flatten  # how the last feature map feeds the dense layers
    dense: list[int] = field(default_factory=list)  # hidden dense layers (units) before the softmax; [] for none
    dense_dropout: float = 0.0  # dropout after every hidden dense layer, in [0, 1)


POOLINGS = {Pooling.max: keras.layers.MaxPooling2D, Pooling.avg: keras.layers.AveragePooling2D}


@MODELS.register("custom_cnn", CustomCnnConfig)
def custom_cnn(x, cfg: DictConfig, image_size: int, num_classes: int):
    """Rescale raw pixels to [0, 1], apply the conv blocks, flatten (or global-average), then the head."""
    _check(cfg, image_size)
    activation = _activation(cfg.activation)
    regularizer = l2_regularizer(cfg.l2)
    units, dense_dropout = check_head(cfg.dense, cfg.dense_dropout, "model.dense", "model.dense_dropout")

    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    for b, block in enumerate(cfg.blocks, start=1):
        for c in range(1, block.get("convs", 1) + 1):
            x = keras.layers.Conv2D(
                block["filters"],
                cfg.kernel_size,
                padding="same",
                use_bias=not cfg.batch_norm,
                kernel_regularizer=regularizer,
                name=f"block{b}_conv{c}",
            )(x)
            if cfg.batch_norm:
                x = keras.layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"block{b}_bn{c}")(x)
            x = keras.layers.Activation(activation, name=f"block{b}_act{c}")(x)
        x = POOLINGS[cfg.pooling](2, name=f"block{b}_pool")(x)
        if cfg.block_dropout:
            x = keras.layers.Dropout(cfg.block_dropout, name=f"block{b}_dropout")(x)
    if cfg.global_pool == GlobalPool.flatten:
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return classifier_head(
        x,
        units,
        dense_dropout,
        regularizer,
        num_classes,
        activation=activation,
        batch_norm=cfg.batch_norm,
        momentum=cfg.bn_momentum,
    )


def _check(cfg: DictConfig, image_size: int) -> None:
    blocks = cfg.blocks
    require(len(blocks) > 0, "model.blocks", blocks, "a non-empty list of {filters, convs} blocks")
    require(
        image_size // 2 ** len(blocks) >= 1,
        "model.blocks",
        f"<{len(blocks)} blocks>",
        f"at most {image_size.bit_length() - 1} blocks for {image_size}px images (each block halves the image side)",
    )
    for i, block in enumerate(blocks):
        require(set(block) <= {"filters", "convs"}, f"model.blocks[{i}]", dict(block), "{filters: N, convs: N}")
        filters, convs = block.get("filters"), block.get("convs", 1)
        require(filters is not None and filters > 0, f"model.blocks[{i}].filters", filters, "a positive integer")
        require(convs > 0, f"model.blocks[{i}].convs", convs, "a positive integer")
    require(cfg.kernel_size >= 1, "model.kernel_size", cfg.kernel_size, "a positive integer, e.g. 3")
    require(0.0 < cfg.bn_momentum < 1.0, "model.bn_momentum", cfg.bn_momentum, "a number in (0, 1), e.g. 0.9")
    require(0.0 <= cfg.block_dropout < 1.0, "model.block_dropout", cfg.block_dropout, "a number in [0, 1)")


def _activation(name: str) -> str:
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        require(False, "model.activation", name, "a Keras activation name: relu | elu | gelu | swish | ...")
    return name
