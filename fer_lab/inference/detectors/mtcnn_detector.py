"""MTCNN (Zhang et al. 2016): a cascade of three small CNNs from the `mtcnn` package, whose weights ship inside
its wheel (MIT licence), so it works offline. Slower than Haar, far fewer false faces (benchmarks/bench_detectors.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from fer_lab.inference.detectors import DETECTORS, DetectorConfig
from fer_lab.inference.faces import Box, downscale, largest_first, scaled_box


@dataclass
class MtcnnConfig(DetectorConfig):
    min_confidence: float = 0.9  # MTCNN: minimum face confidence of its last stage


class MtcnnDetector:
    """MTCNN on the frame downscaled to `detect_width`; faces smaller than `min_face` of the frame are skipped."""

    name = "mtcnn"

    def __init__(self, detect_width: int = 320, min_face: float = 0.08, min_confidence: float = 0.9):
        from mtcnn import MTCNN  # imports TensorFlow: only when this detector is chosen
        from mtcnn.stages import stage_pnet

        if not hasattr(stage_pnet.build_scale_pyramid, "__wrapped__"):
            stage_pnet.build_scale_pyramid = _levels_its_first_network_accepts(stage_pnet.build_scale_pyramid)
        self.model = MTCNN()
        self.detect_width, self.min_face, self.min_confidence = detect_width, min_face, min_confidence

    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        small, scale = downscale(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), self.detect_width)
        side = max(12, int(self.min_face * min(small.shape[:2])))
        found = self.model.detect_faces(small, min_face_size=side)
        return largest_first(
            [
                scaled_box(face["box"], scale, float(face["confidence"]))
                for face in found
                if face["confidence"] >= self.min_confidence
            ]
        )


def _levels_its_first_network_accepts(build_scale_pyramid):
    """mtcnn 1.0 counts its pyramid levels as if the pyramid started at scale 1, so with min_face_size > 12 its
    last levels are smaller than the 12 px its first network needs; they find nothing, and Keras >= 3.15.1 raises
    on them. Keep the levels of at least 12 px."""

    @functools.wraps(build_scale_pyramid)
    def pyramid(width, height, min_face_size, scale_factor, min_size=12):
        scales = build_scale_pyramid(width, height, min_face_size, scale_factor, min_size)
        return scales[np.floor(min(width, height) * scales) >= min_size]

    return pyramid


@DETECTORS.register("mtcnn", MtcnnConfig)
def mtcnn(cfg: MtcnnConfig) -> MtcnnDetector:
    return MtcnnDetector(cfg.detect_width, cfg.min_face, cfg.min_confidence)
