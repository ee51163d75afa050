"""model.init_from: start training from the weights of a trained fer_lab model of the same architecture."""

from __future__ import annotations

import keras

from fer_lab.errors import FerLabError
from fer_lab.models.augmentation import BLOCK

HEAD = "predictions"  # the softmax layer every fer_lab model ends with


def initialize_from(model: keras.Model, uri: str, class_names: tuple[str, ...], tracking_uri: str | None = None) -> str:
    """Copy every weighted layer of the model at `uri` into `model` by name, and its head when the class names
    match (columns reordered when only the order differs); a head for other classes starts fresh.

    Returns a one-line account of what was copied. A missing model or another architecture is a FerLabError.
    """
    from fer_lab.inference.loading import load_model

    try:
        source, meta = load_model(str(uri), tracking_uri)
    except FerLabError as err:
        raise FerLabError(f"model.init_from={uri}: {err}") from None
    sources = {layer.name: layer for layer in source.layers}
    copied, differ = 0, []
    for layer in model.layers:
        if not layer.weights or layer.name in (HEAD, BLOCK):
            continue
        other = sources.get(layer.name)
        if other is None or [w.shape for w in other.weights] != [w.shape for w in layer.weights]:
            differ.append(layer.name)
            continue
        layer.set_weights(other.get_weights())
        copied += 1
    if differ or not copied:
        raise FerLabError(
            f"model.init_from={uri} is a {meta.model_name!r} model whose layers do not fit this "
            f"model={model.name} (no matching weights for {', '.join(differ[:5]) or 'any layer'}): "
            f"pick the model config it was trained with, e.g. model={meta.model_name}, with the same "
            "model.input_crop and layer sizes"
        )
    head = _copy_head(model.get_layer(HEAD), source.get_layer(HEAD), meta.class_names, class_names)
    return f"initialised {copied} layers from {uri} ({meta.model_name}, classes {', '.join(meta.class_names)}); {head}"


def _copy_head(head, source_head, source_classes: tuple[str, ...], classes: tuple[str, ...]) -> str:
    """Copy the softmax layer when the class sets are equal; say what happened."""
    if set(source_classes) != set(classes) or len(source_classes) != len(classes):
        return "head rebuilt for the data's classes (they differ from the model's)"
    kernel, bias = source_head.get_weights()
    order = [source_classes.index(name) for name in classes]
    head.set_weights([kernel[:, order], bias[order]])
    return "head kept" if order == sorted(order) else "head kept, its classes reordered"
