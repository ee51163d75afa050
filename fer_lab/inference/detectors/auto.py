"""YuNet when its ONNX file is at hand, else the Haar cascade."""

from __future__ import annotations

from pathlib import Path

from fer_lab.inference.detectors import DETECTORS, DetectorConfig
from fer_lab.inference.faces import FaceDetector


@DETECTORS.register("auto", DetectorConfig)
def auto(cfg: DetectorConfig) -> FaceDetector:
    """YuNet when cfg.yunet_model names an existing file, else the Haar cascade."""
    found = cfg.yunet_model and Path(cfg.yunet_model).is_file()
    return DETECTORS["yunet" if found else "haar"](cfg)
