"""Ensembles as models: one Keras model that averages the class probabilities of trained fer_lab models."""

from __future__ import annotations

import keras

ENSEMBLE = "ensemble"
MEMBER = "member_"


def build_ensemble(members: list[keras.Model], image_size: int) -> keras.Model:
    """A model taking raw (S, S, 1) pixels that outputs the mean of the members' probabilities.

    Members keep their own preprocessing and input crops inside; each is renamed member_<i> so that members of
    one architecture can sit side by side.
    """
    inputs = keras.Input(shape=(image_size, image_size, 1), dtype="float32", name="pixels")
    outputs = [keras.Model(m.input, m.output, name=f"{MEMBER}{i}")(inputs) for i, m in enumerate(members)]
    mean = keras.layers.Average(dtype="float32", name="predictions")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(inputs, mean, name=ENSEMBLE)


def ensemble_members(model) -> list[keras.Model]:
    """The member models of an ensemble built by build_ensemble (loaded back or not); [] for any other model."""
    if getattr(model, "name", None) != ENSEMBLE:
        return []
    return [layer for layer in model.layers if isinstance(layer, keras.Model) and layer.name.startswith(MEMBER)]
