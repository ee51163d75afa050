"""OpenCV's YuNet CNN face detector, from its ONNX file (no wheel ships it)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_lab.errors import FerLabError
from fer_lab.inference.detectors import DETECTORS, DetectorConfig
from fer_lab.inference.faces import Box, downscale, largest_first, scaled_box


class YuNetDetector:
    """OpenCV's YuNet CNN detector (cv2.FaceDetectorYN) from its ONNX file, on a downscaled frame."""

    name = "yunet"

    def __init__(
        self, model_path: str, detect_width: int = 320, score_threshold: float = 0.8, nms_threshold: float = 0.3
    ):
        if not Path(model_path).is_file():
            raise FerLabError(
                f"YuNet model file {model_path} not found. Download "
                "face_detection_yunet_2023mar.onnx from github.com/opencv/opencv_zoo "
                "and pass its path (detector.yunet_model=...), or use detector=haar"
            )
        try:
            self.net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, nms_threshold, 50)
        except cv2.error as err:
            raise FerLabError(
                f"cannot load YuNet model {model_path}: {err.msg.strip()}. "
                "Use an ONNX file from opencv_zoo, or detector=haar"
            ) from None
        self.detect_width = detect_width

    def __call__(self, frame: np.ndarray, gray: np.ndarray) -> list[Box]:
        small, scale = downscale(
            frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), self.detect_width
        )
        self.net.setInputSize((small.shape[1], small.shape[0]))
        _, found = self.net.detect(small)
        if found is None:
            return []
        return largest_first([scaled_box(row[:4], scale, score=float(row[-1])) for row in found])


@DETECTORS.register("yunet", DetectorConfig)
def yunet(cfg: DetectorConfig) -> YuNetDetector:
    if not cfg.yunet_model:
        raise FerLabError(
            "detector yunet needs its ONNX file: pass detector.yunet_model=<path> "
            "(--yunet-model for predict), or use detector=haar"
        )
    return YuNetDetector(cfg.yunet_model, cfg.detect_width, cfg.score_threshold)
