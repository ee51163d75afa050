"""Head training on cached backbone features: the frozen part of a backbone model runs once per image.

While the backbone is frozen and no augmentation or mixup changes the images (see
fer_lab.models.caches_head_features), the input of the head never changes between epochs. It is computed
once for train and val, and the head trains on it as a model that shares the full model's head layers:
training it trains the full model, with nothing to copy back. Callbacks see the full model, so checkpoints,
resume and the learning rate (one optimizer, shared) work as when training the full model.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from fer_lab.models import head_input


def backbone_features(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """What the frozen part of `model` (resizing, preprocessing, backbone, pooling) outputs for `x`."""
    frozen = keras.Model(model.input, model.get_layer(head_input(model)).output)
    return frozen.predict(x, batch_size=batch_size, verbose=0)


def head_model(model: keras.Model) -> keras.Model:
    """The layers after the pooling of `model`, as a model on pooled features; layers and weights are shared."""
    return keras.Model(model.get_layer(head_input(model)).output, model.output, name=f"{model.name}_head")


def fit_head_on_features(
    model: keras.Model,
    head: keras.Model,
    inputs: dict,
    validation_data: tuple,
    callbacks: list,
    verbose: int,
    **fit_args,
) -> None:
    """head.fit on the cached features of inputs["x"] and validation_data[0] (images of `model`).

    `head` is head_model(model), compiled with model.optimizer. `inputs` holds x, y, batch_size and the
    other keyword arguments of model.fit; `callbacks` act on `model`, and a stop they request ends the fit.
    """
    start = time.perf_counter()
    batch_size = inputs["batch_size"]
    x = backbone_features(model, inputs["x"], batch_size)
    val_x = backbone_features(model, validation_data[0], batch_size)
    print(
        f"fer_lab: head epochs on cached backbone features: {len(x)} train + {len(val_x)} val images, "
        f"{x.shape[1]} features each, computed in {time.perf_counter() - start:.1f}s",
        flush=True,
    )
    bound = keras.callbacks.CallbackList(
        [*callbacks, _StopHead(head)],
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=fit_args["epochs"],
        steps=math.ceil(len(x) / batch_size),
    )
    head.history = model.history  # the History callback binds to the full model; head.fit returns it
    head.fit(
        **{**inputs, "x": x}, validation_data=(val_x, validation_data[1]), callbacks=bound, verbose=verbose, **fit_args
    )


class _StopHead(keras.callbacks.Callback):
    """Passes the full model's stop_training (set by early stopping or a time budget) on to the head's fit."""

    def __init__(self, head: keras.Model):
        super().__init__()
        self.head = head

    def on_train_begin(self, logs=None):
        self.model.stop_training = False

    def on_epoch_end(self, epoch, logs=None):
        self.head.stop_training = self.model.stop_training
