"""OpenCV's frontal-face Haar cascade."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_lab.errors import FerLabError
from fer_lab.inference.detectors import DETECTORS, DetectorConfig
from fer_lab.inference.faces import Box, downscale, largest_first, scaled_box

HAAR_CASCADE = "haarcascade_frontalface_default.xml"


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, run on a frame downscaled to `detect_width` for speed."""

    name = "haar"

    def __init__(
        self, detect_width: int = 320, min_face: float = 0.08, scale_factor: float = 1.1, min_neighbors: int = 5
    ):
        path = Path(cv2.data.haarcascades) / HAAR_CASCADE
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise FerLabError(f"cannot load the Haar cascade {path}; reinstall opencv-python-headless<5")
        self.detect_width, self.min_face = detect_width, min_face
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors

    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        small, scale = downscale(gray, self.detect_width)
        side = max(1, int(self.min_face * min(small.shape[:2])))
        found = self.cascade.detectMultiScale(
            cv2.equalizeHist(small),
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(side, side),
        )
        return largest_first([scaled_box(box, scale) for box in found])


@DETECTORS.register("haar", DetectorConfig)
def haar(cfg: DetectorConfig) -> HaarDetector:
    return HaarDetector(cfg.detect_width, cfg.min_face, cfg.scale_factor, cfg.min_neighbors)
