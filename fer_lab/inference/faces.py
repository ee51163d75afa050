"""Face boxes, the detector interface, and cropping faces the way training saw them (the detectors:
fer_lab.inference.detectors)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np


@dataclass(frozen=True)
class Box:
    """A face box in frame pixels (x, y = top-left corner) and the detector's score (1.0 if it has none)."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union else 0.0


class FaceDetector(Protocol):
    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        """Faces in a BGR `frame` (its grayscale version `gray` is passed too), largest first."""


def crop_faces(gray: np.ndarray, boxes: list[Box], size: int, margin: float = 0.0) -> np.ndarray:
    """Raw-pixel face crops (N, size, size, 1) float32 0..255 from a grayscale image.

    Each box is made square around its centre and widened by `margin` times its side on every side
    (the training data's face margin); parts outside the image repeat the border pixels.
    """
    out = np.empty((len(boxes), size, size, 1), dtype="float32")
    height, width = gray.shape[:2]
    for i, box in enumerate(boxes):
        side = max(box.w, box.h) * (1.0 + 2.0 * margin)
        x0 = round(box.x + box.w / 2 - side / 2)
        y0 = round(box.y + box.h / 2 - side / 2)
        x1, y1 = x0 + max(1, round(side)), y0 + max(1, round(side))
        crop = gray[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
        pads = (max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0))
        if any(pads):
            crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
        interpolation = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_LINEAR
        out[i, :, :, 0] = cv2.resize(crop, (size, size), interpolation=interpolation)
    return out


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grayscale of a grayscale, BGR or BGRA image."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(image, code)


MAX_ASPECT = 4
"""A detection copy is at most this many times as tall as it is wide (so a thin, tall image stays small)."""


def downscale(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    """`image` resized (never up, keeping its shape) to at most `width` pixels wide and MAX_ASPECT times `width`
    tall, and the factor that maps its pixels back; `width` 0 keeps it as it is."""
    height, wide = image.shape[:2]
    scale = max(wide / width, height / (MAX_ASPECT * width)) if width else 1.0
    if scale <= 1.0:
        return image, 1.0
    size = (max(1, round(wide / scale)), max(1, round(height / scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def scaled_box(xywh: Sequence[float], scale: float, score: float = 1.0) -> Box:
    """The box (x, y, w, h) of a downscaled frame as a Box in the pixels of the full frame."""
    x, y, w, h = xywh
    return Box(round(x * scale), round(y * scale), round(w * scale), round(h * scale), score)


def largest_first(boxes: list[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: b.w * b.h, reverse=True)
