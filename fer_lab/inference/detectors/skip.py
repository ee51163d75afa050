"""No detection: the whole image is the face, for inputs that are already face crops (like FER-2013)."""

from __future__ import annotations

import numpy as np

from fer_lab.inference.detectors import DETECTORS, DetectorConfig
from fer_lab.inference.faces import Box


class SkipDetector:
    """The whole image is one face box."""

    name = "skip"

    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        h, w = gray.shape[:2]
        return [Box(0, 0, w, h)]


@DETECTORS.register("skip", DetectorConfig)
def skip(cfg: DetectorConfig) -> SkipDetector:
    return SkipDetector()
