"""trainer.distribution=data_parallel: train one model on every local device (the backend-specific glue).

trainer.batch_size stays the global batch: each of N devices takes batch_size / N images of it and their gradients
are combined, so a step matches one device's step on the whole batch.

- JAX: keras.distribution.DataParallel, variables replicated and each batch sharded over a 1-D mesh of the devices.
- TensorFlow: tf.distribute.MirroredStrategy; BatchNormalization layers synchronize their batch statistics across
  replicas. Each replica draws its own dropout and augmentation, so those random draws differ from one device's.

JAX shards a batch only in equal parts, and Keras on TensorFlow fails on an unequally split first batch, so fit sees
the first multiple of N of the training and of the validation images (at most N - 1 of each left out; the evaluation
after training sees them all). The trained weights come back in a model built outside the distribution, for
evaluation and logging anywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace

import keras

from fer_lab.config import Distribution
from fer_lab.data import FerData
from fer_lab.errors import FerLabError


class Devices:
    """The devices a run trains on, for `trainer.distribution` (None or "none": the default device)."""

    def __init__(self, setting: str | None, batch_size: int):
        self._strategy = None  # keras.distribution.DataParallel (JAX) or tf.distribute.MirroredStrategy
        self.names: tuple[str, ...] = ()
        if setting in (None, Distribution.none):
            return
        backend = keras.backend.backend()
        if backend == "jax":
            self.names = tuple(keras.distribution.list_devices())
            if len(self.names) > 1:
                self._strategy = keras.distribution.DataParallel(devices=list(self.names))
        elif backend == "tensorflow":
            import tensorflow as tf

            self.names = tuple(
                d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
            )
            if len(self.names) > 1:
                self._strategy = tf.distribute.MirroredStrategy(devices=list(self.names))
        else:
            raise FerLabError(
                f"trainer.distribution={setting} needs the JAX or TensorFlow backend, not {backend}: "
                "set KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow, or trainer.distribution=none"
            )
        if batch_size % self.count:
            raise FerLabError(
                f"trainer.batch_size={batch_size} does not split evenly across {self.count} devices: "
                f"set it to a multiple of {self.count}, e.g. "
                f"trainer.batch_size={max(1, round(batch_size / self.count)) * self.count}"
            )

    @property
    def count(self) -> int:
        return len(self.names) if self._strategy else 1

    def describe(self) -> str:
        """One line for the console: how many devices train, and how a batch splits."""
        if self._strategy:
            return (
                f"data parallel on {self.count} devices ({', '.join(self.names)}): each takes "
                f"1/{self.count} of every batch"
            )
        if self.names:
            return (
                f"trainer.distribution={Distribution.data_parallel}, but one device found ({self.names[0]}): "
                "training on it"
            )
        return "training on one device"

    def scope(self) -> AbstractContextManager:
        """Build, load, compile and fit models inside: their variables live on every device."""
        return self._strategy.scope() if self._strategy else contextlib.nullcontext()

    def prepare(self, model: keras.Model) -> keras.Model:
        """`model`, built in scope(), with the per-backend settings of data-parallel training; returns `model`."""
        if self._strategy and keras.backend.backend() == "tensorflow":
            for layer in model._flatten_layers():
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.synchronized = True  # the whole global batch's statistics, as on one device
        return model

    def local_model(self, model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
        """`model` itself on one device, else its weights in `build()` built outside the distribution."""
        if not self._strategy:
            return model
        copy = build()
        copy.set_weights(model.get_weights())
        return copy


def split_evenly(data: FerData) -> FerData:
    """`data` with train and val trimmed to a multiple of the devices of the active distribution (Devices.scope()),
    so that it splits every batch in equal parts (the batch size is a multiple too: Devices checks it)."""
    n = _active_devices()
    trimmed = {
        s.name: replace(s, x=s.x[: len(s) - len(s) % n], y=s.y[: len(s) - len(s) % n])
        for s in (data.train, data.val)
        if len(s) % n
    }
    if not trimmed:
        return data
    kept = ", ".join(f"{len(s)} of {len(getattr(data, name))} {name} images" for name, s in trimmed.items())
    print(
        f"fer_lab: note: data parallel on {n} devices fits on {kept} (multiples of {n}); the evaluation after "
        "training sees every image",
        flush=True,
    )
    return replace(data, train=trimmed.get("train", data.train), val=trimmed.get("val", data.val))


def _active_devices() -> int:
    if keras.backend.backend() == "jax":
        distribution = keras.distribution.distribution()
        return distribution.device_mesh.devices.size if distribution else 1
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    return 1
