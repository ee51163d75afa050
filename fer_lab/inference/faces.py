"""Face detection (YuNet, Haar cascade, or none) and cropping faces the way training saw them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from fer_lab.errors import FerLabError

DETECTORS = ("auto", "yunet", "haar", "skip")
HAAR_CASCADE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class Box:
    """A face box in frame pixels (x, y = top-left corner) and the detector's score (1.0 if it has none)."""

    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    def iou(self, other: "Box") -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union else 0.0


class FaceDetector(Protocol):
    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        """Faces in a BGR `frame` (its grayscale version `gray` is passed too), largest first."""


class SkipDetector:
    """The whole image is the face: for inputs that are already face crops (like FER-2013)."""

    name = "skip"

    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        h, w = gray.shape[:2]
        return [Box(0, 0, w, h)]


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, run on a frame downscaled to `detect_width` for speed."""

    name = "haar"

    def __init__(self, detect_width: int = 320, min_face: float = 0.08, scale_factor: float = 1.1,
                 min_neighbors: int = 5):
        path = Path(cv2.data.haarcascades) / HAAR_CASCADE
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise FerLabError(f"cannot load the Haar cascade {path}; reinstall opencv-python-headless<5")
        self.detect_width, self.min_face = detect_width, min_face
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors

    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        small, scale = _downscale(gray, self.detect_width)
        side = max(1, int(self.min_face * min(small.shape[:2])))
        found = self.cascade.detectMultiScale(cv2.equalizeHist(small), scaleFactor=self.scale_factor,
                                              minNeighbors=self.min_neighbors, minSize=(side, side))
        return _largest_first([_scaled(x, y, w, h, scale) for x, y, w, h in found])


class YuNetDetector:
    """OpenCV's YuNet CNN detector (cv2.FaceDetectorYN) from its ONNX file, on a downscaled frame."""

    name = "yunet"

    def __init__(self, model_path: str, detect_width: int = 320, score_threshold: float = 0.8,
                 nms_threshold: float = 0.3):
        if not Path(model_path).is_file():
            raise FerLabError(f"YuNet model file {model_path} not found. Download "
                              "face_detection_yunet_2023mar.onnx from github.com/opencv/opencv_zoo "
                              "and pass its path (detector.yunet_model=...), or use detector=haar")
        try:
            self.net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold,
                                                 nms_threshold, 50)
        except cv2.error as err:
            raise FerLabError(f"cannot load YuNet model {model_path}: {err.msg.strip()}. "
                              "Use an ONNX file from opencv_zoo, or detector=haar") from None
        self.detect_width = detect_width

    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        small, scale = _downscale(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR),
                                  self.detect_width)
        self.net.setInputSize((small.shape[1], small.shape[0]))
        _, found = self.net.detect(small)
        if found is None:
            return []
        return _largest_first([_scaled(*row[:4], scale, score=float(row[-1])) for row in found])


def make_detector(name: str = "auto", yunet_model: str | None = None, detect_width: int = 320,
                  min_face: float = 0.08, score_threshold: float = 0.8, scale_factor: float = 1.1,
                  min_neighbors: int = 5) -> FaceDetector:
    """A detector by name. auto: YuNet when `yunet_model` is an existing file, else the Haar cascade."""
    if name not in DETECTORS:
        raise FerLabError(f"unknown face detector {name!r}: use one of {', '.join(DETECTORS)}")
    if name == "skip":
        return SkipDetector()
    if name == "yunet" or (name == "auto" and yunet_model and Path(yunet_model).is_file()):
        if not yunet_model:
            raise FerLabError("detector yunet needs its ONNX file: pass detector.yunet_model=<path> "
                              "(--yunet-model for predict), or use detector=haar")
        return YuNetDetector(yunet_model, detect_width, score_threshold)
    return HaarDetector(detect_width, min_face, scale_factor, min_neighbors)


def crop_faces(gray: np.ndarray, boxes: list[Box], size: int, margin: float = 0.0) -> np.ndarray:
    """Raw-pixel face crops (N, size, size, 1) float32 0..255 from a grayscale image.

    Each box is made square around its centre and widened by `margin` times its side on every side
    (the training data's face margin); parts outside the image repeat the border pixels.
    """
    out = np.empty((len(boxes), size, size, 1), dtype="float32")
    height, width = gray.shape[:2]
    for i, box in enumerate(boxes):
        side = max(box.w, box.h) * (1.0 + 2.0 * margin)
        x0 = int(round(box.x + box.w / 2 - side / 2))
        y0 = int(round(box.y + box.h / 2 - side / 2))
        x1, y1 = x0 + max(1, int(round(side))), y0 + max(1, int(round(side)))
        crop = gray[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
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


def _downscale(image: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    if not width or image.shape[1] <= width:
        return image, 1.0
    scale = image.shape[1] / width
    small = cv2.resize(image, (width, int(round(image.shape[0] / scale))), interpolation=cv2.INTER_AREA)
    return small, scale


def _scaled(x, y, w, h, scale: float, score: float = 1.0) -> Box:
    return Box(int(round(x * scale)), int(round(y * scale)), int(round(w * scale)), int(round(h * scale)),
               score)


def _largest_first(boxes: list[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: b.w * b.h, reverse=True)
