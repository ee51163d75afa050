"""Face detectors: the `detector` config group (conf/detector/<name>.yaml).

Each module of this package registers one detector, a factory from its typed config:

    @DETECTORS.register("haar", DetectorConfig)
    def haar(cfg: DetectorConfig) -> FaceDetector: ...

and conf/detector/<name>.yaml extends `<name>_schema`. A detector with settings of its own registers a
subclass of DetectorConfig that adds them.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING, DictConfig

from fer_lab.inference.faces import FaceDetector
from fer_lab.registry import Registry, import_submodules


@dataclass
class DetectorConfig:
    """The settings of a face detector; each detector reads the ones it uses."""

    name: str = MISSING
    yunet_model: str | None = None  # path to face_detection_yunet_2023mar.onnx (github.com/opencv/opencv_zoo)
    detect_width: int = 320  # detect on a copy downscaled to this width (boxes scaled back); 0: full size
    min_face: float = 0.08  # Haar: smallest face side, as a fraction of the frame's smaller side
    score_threshold: float = 0.8  # YuNet: minimum face score
    scale_factor: float = 1.1  # Haar: image pyramid step
    min_neighbors: int = 5  # Haar: overlapping detections needed to keep a face (higher: fewer false faces)


DETECTORS: Registry = Registry("detector", "name")


def make_detector(name: str = "auto", **settings) -> FaceDetector:
    """The detector `name` with `settings` (DetectorConfig keys) over its defaults, e.g. make_detector("haar")."""
    return detector_from_config({**settings, "name": name})


def detector_from_config(cfg: DictConfig | dict) -> FaceDetector:
    """The detector a `detector` config chooses, its settings checked against the detector's schema."""
    typed = DETECTORS.config(cfg)
    return DETECTORS[typed.name](typed)


import_submodules(__name__)
