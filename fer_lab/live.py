"""`python -m fer_lab.live`: the emotion of every face in a camera or video stream, live.

Overlay (box, label, confidence, probability bars, FPS) in a window, an annotated video file and/or a
CSV with one row per detected face per frame; `uncertain_below` labels uncertain the faces whose top probability is
below it. See conf/live.yaml for the options.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import hydra
import numpy as np
from omegaconf import DictConfig

import fer_lab.config  # noqa: F401  (the fer_lab_root resolver)
from fer_lab.command_line import checked_overrides
from fer_lab.config import require
from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.inference.catalog import default_model_uri, describe_model
from fer_lab.inference.detectors import detector_from_config  # and the detectors' config schemas
from fer_lab.inference.faces import Box
from fer_lab.inference.overlay import draw_faces
from fer_lab.inference.recognizer import EmotionRecognizer, FacePrediction
from fer_lab.inference.smoothing import FaceSmoother
from fer_lab.inference.video import FaceCsv, VideoSink, VideoSource, Window, gui_problem


class FrameRecognizer(Protocol):
    """What the live loop uses of a recognizer: an EmotionRecognizer, or a wrapper that shares it."""

    @property
    def class_names(self) -> tuple[str, ...]: ...

    def detect(self, frame: np.ndarray) -> tuple[list[Box], np.ndarray]: ...

    def crop(self, gray: np.ndarray, boxes: list[Box]) -> np.ndarray: ...

    def predict_proba(self, faces: np.ndarray) -> np.ndarray: ...

    def face_prediction(self, box: Box, probs: np.ndarray, uncertain_below: float = 0.0) -> FacePrediction: ...


@dataclass(frozen=True)
class LiveSummary:
    frames: int
    faces: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def recognizer_from_config(cfg: DictConfig) -> EmotionRecognizer:
    """The model at cfg.model_uri (null: the champion, else the bundled model) with the configured detector and TTA."""
    tracking_uri = cfg.mlflow.get("tracking_uri")
    uri = str(cfg.model_uri or default_model_uri(tracking_uri))
    print(f"fer_lab: model {describe_model(uri, tracking_uri).describe()}", flush=True)
    return EmotionRecognizer.from_uri(
        uri, tracking_uri=tracking_uri, detector=detector_from_config(cfg.detector), tta=str(cfg.tta)
    )


def run(cfg: DictConfig, recognizer: FrameRecognizer | None = None) -> LiveSummary:
    """Run the live loop of `cfg` (the `live` config); `recognizer` replaces the configured model."""
    smoothing = float(cfg.smoothing)
    require(0.0 <= smoothing < 1.0, "smoothing", cfg.smoothing, "a number in [0, 1) (0: off)")
    uncertain_below = float(cfg.uncertain_below)
    require(0.0 <= uncertain_below <= 1.0, "uncertain_below", cfg.uncertain_below, "a number in [0, 1] (0: off)")
    require(cfg.display in ("auto", True, False), "display", cfg.display, "true, false or auto")
    display = (gui_problem() is None) if cfg.display == "auto" else bool(cfg.display)
    if not (display or cfg.output or cfg.csv):
        why = "display=false" if cfg.display is False else f"no window can be opened here ({gui_problem()})"
        raise FerLabError(f"nothing to show or write: {why}; pass output=annotated.mp4 and/or csv=emotions.csv")
    window = Window(f"fer_lab: {cfg.source} (q quits)") if display else None
    source = VideoSource(cfg.source)
    recognizer = recognizer or recognizer_from_config(cfg)
    sink = VideoSink(cfg.output, source.fps) if cfg.output else None
    table = FaceCsv(cfg.csv, recognizer.class_names, uncertain_below) if cfg.csv else None
    smoother = FaceSmoother(smoothing)
    frames = faces = 0
    fps = None
    start = last = time.perf_counter()
    try:
        for index, seconds, frame in source.frames():
            boxes, gray = recognizer.detect(frame)
            tracks, probs = smoother.update(boxes, recognizer.predict_proba(recognizer.crop(gray, boxes)))
            predictions = [
                recognizer.face_prediction(box, p, uncertain_below) for box, p in zip(boxes, probs, strict=True)
            ]
            if table:
                table.write(index, seconds, boxes, tracks, probs)
            now = time.perf_counter()
            fps = 1.0 / max(now - last, 1e-6) if fps is None else 0.9 * fps + 0.1 / max(now - last, 1e-6)
            last = now
            draw_faces(frame, predictions, recognizer.class_names, fps if cfg.show_fps else None)
            if sink:
                sink.write(frame)
            frames, faces = frames + 1, faces + len(boxes)
            if window and not window.show(frame):
                break
            if cfg.max_frames and frames >= int(cfg.max_frames):
                break
    except KeyboardInterrupt:
        print("fer_lab: stopped (Ctrl+C)")
    finally:
        for part in (source, sink, table, window):
            if part:
                part.close()
    return LiveSummary(frames, faces, time.perf_counter() - start)


@checked_overrides("live")
@hydra.main(version_base="1.3", config_path="../conf", config_name="live")
@report_user_errors
def main(cfg: DictConfig) -> None:
    summary = run(cfg)
    written = [str(p) for p in (cfg.output, cfg.csv) if p]
    print(
        f"fer_lab: {summary.frames} frames, {summary.faces} faces, {summary.fps:.1f} FPS"
        + (f"; wrote {', '.join(written)}" if written else "")
    )


if __name__ == "__main__":
    main()
