"""Test-time augmentation on raw-pixel batches: average the softmax over flipped and cropped views."""

from __future__ import annotations

import cv2
import numpy as np

from fer_lab.models import CROP
from fer_lab.models.ensemble import ensemble_members


def predict_with_tta(
    model, x: np.ndarray, mode: str = "none", batch_size: int = 256, crop_fraction: float = 0.875
) -> np.ndarray:
    """Class probabilities (N, K) for images (N, S, S, 1), averaged over the views of `mode`.

    none: the image; flip: + its mirror; crops: ten-crop (4 corners and centre, each also mirrored),
    every crop resized back to S. A model with an input_crop layer (model.input_crop = C) gets its own
    native-scale crops instead: each C-pixel corner is shifted to the centre its layer keeps. An ensemble averages
    its members' ten-crop outputs, each member on its own crops.
    """
    members = _crop_members(model, mode)
    if members:
        return np.mean([predict_with_tta(m, x, mode, batch_size, crop_fraction) for m in members], axis=0)
    views = tta_views(model, x, mode, crop_fraction)
    probs = [model.predict(view.astype("float32"), batch_size=batch_size, verbose=0) for view in views]
    return sum(probs[1:], probs[0]) / len(views)


def forward_with_tta(model, x: np.ndarray, mode: str, crop_fraction: float = 0.875) -> np.ndarray:
    """predict_with_tta for a few faces: all views in one predict_on_batch call (per member of an ensemble)."""
    members = _crop_members(model, mode)
    if members:
        return np.mean([forward_with_tta(m, x, mode, crop_fraction) for m in members], axis=0)
    views = tta_views(model, x, mode, crop_fraction)
    probs = np.asarray(model.predict_on_batch(np.concatenate(views) if len(views) > 1 else x))
    return probs.reshape(len(views), len(x), -1).mean(axis=0)


def tta_views(model, x: np.ndarray, mode: str, crop_fraction: float = 0.875) -> list[np.ndarray]:
    """The views of images x (N, S, S, 1) whose probabilities `mode` averages, for `model` (see predict_with_tta)."""
    return _views(x, mode, crop_fraction, _input_crop_side(model))


def _crop_members(model, mode: str) -> list:
    """An ensemble's members when their crops may differ (ten-crop); none and flip views are the same for all."""
    return ensemble_members(model) if mode == "crops" else []


def _views(x: np.ndarray, mode: str, crop_fraction: float, model_crop: int | None) -> list[np.ndarray]:
    if mode == "none":
        return [x]
    if mode == "flip":
        return [x, x[:, :, ::-1]]
    size = x.shape[1]
    crop = model_crop or round(size * crop_fraction)
    far = size - crop
    views = []
    for top, left in [(0, 0), (0, far), (far, 0), (far, far), (far // 2, far // 2)]:
        if model_crop:  # the model keeps its centre crop itself: shift the corner there, at native scale
            view = np.roll(x, (far // 2 - top, far // 2 - left), axis=(1, 2))
        else:
            view = _resize(x[:, top : top + crop, left : left + crop], size)
        views += [view, view[:, :, ::-1]]
    return views


def _input_crop_side(model) -> int | None:
    layer = next((layer for layer in getattr(model, "layers", []) if layer.name == CROP), None)
    return int(layer.height) if layer is not None else None


def _resize(batch: np.ndarray, size: int) -> np.ndarray:
    out = np.empty((len(batch), size, size, 1), dtype=batch.dtype)
    for i, image in enumerate(batch):
        out[i, :, :, 0] = cv2.resize(image[:, :, 0], (size, size), interpolation=cv2.INTER_LINEAR)
    return out
