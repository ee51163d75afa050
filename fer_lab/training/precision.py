"""Mixed precision: build and train under a Keras dtype policy, keep the weights in a float32 model for inference.

Under mixed_bfloat16 or mixed_float16, layers compute in 16 bits and keep float32 variables; the softmax stays
float32 (models.head) and, for mixed_float16, compile wraps the optimizer in a LossScaleOptimizer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import keras


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Models built inside compute under the dtype policy `name`; the previous global policy returns after."""
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def float32_model(model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """`model` itself when it computes in float32, else the same weights in `build()` built under float32.

    Logged and registered models then predict at full precision on any machine (CPUs without bfloat16 units).
    """
    if model.dtype_policy.name == "float32":
        return model
    with dtype_policy("float32"):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy
