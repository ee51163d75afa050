"""Classifier head shared by every model: dense layers with dropout, then a float32 softmax "predictions"."""

from __future__ import annotations

import keras

from fer_lab.config import require


def l2_regularizer(l2: float) -> keras.regularizers.Regularizer | None:
    """`model.l2` (>= 0) as a kernel regularizer (None for 0)."""
    require(l2 >= 0, "model.l2", l2, "a number >= 0 (0 disables weight decay)")
    return keras.regularizers.L2(l2) if l2 else None


def check_head(units, dropout: float, units_key: str, dropout_key: str) -> tuple[list[int], float]:
    """(dense units, dropout) checked for range; the keys name the settings in error messages."""
    units = list(units)
    require(
        all(u > 0 for u in units),
        units_key,
        units,
        "a list of positive integers (units of each dense layer), e.g. [256]; [] for none",
    )
    require(0.0 <= dropout < 1.0, dropout_key, dropout, "a number in [0, 1)")
    return units, float(dropout)


def classifier_head(
    x,
    units: list[int],
    dropout: float,
    regularizer,
    num_classes: int,
    activation: str = "relu",
    batch_norm: bool = False,
    momentum: float = 0.9,
):
    """Dense(+BN)+activation+Dropout per entry of `units`, then Dense(num_classes, softmax) in float32."""
    for i, n in enumerate(units, start=1):
        x = keras.layers.Dense(n, use_bias=not batch_norm, kernel_regularizer=regularizer, name=f"dense{i}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=momentum, name=f"dense{i}_bn")(x)
        x = keras.layers.Activation(activation, name=f"dense{i}_act")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dense{i}_dropout")(x)
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
