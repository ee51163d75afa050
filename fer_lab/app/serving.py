"""The app's serving state: the model in use behind a lock, model switching, and each browser's session."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from fer_lab.app.errors import TooSoon, UnknownModel, check_names, shown
from fer_lab.app.guards import MB
from fer_lab.config import TTA_MODES
from fer_lab.errors import FerLabError
from fer_lab.inference.catalog import ModelEntry, available_models, describe_model
from fer_lab.inference.detectors import make_detector
from fer_lab.inference.faces import Box, downscale, to_gray
from fer_lab.inference.recognizer import EmotionRecognizer, FacePrediction
from fer_lab.inference.smoothing import FaceSmoother

SETTINGS = ("tta", "smoothing", "uncertain_below")
"""What a WebSocket's settings message may set; any other key refuses the message."""


@dataclass(frozen=True)
class Limits:
    """What one request, upload or job may take (docs/inference.md, Security)."""

    frame: int = 5 * MB  # bytes of a webcam frame
    image: int = 20 * MB  # bytes of an uploaded image
    video: int = 200 * MB  # bytes of an uploaded video
    frame_pixels: int = 1920 * 1080  # pixels a webcam frame may decode to (the page sends 640 wide)
    image_pixels: int = 40_000_000  # pixels an uploaded image may decode to
    video_pixels: int = 3840 * 2160  # pixels a video's frames may have (declared by its container, checked first)
    video_frames: int = 3000  # frames read from one video; the rest is left out, and the answer says so
    video_seconds: float = 120.0  # seconds one video job may run; it stops there, and the answer says so
    image_jobs: int = 4  # uploaded images decoded and analysed at once; another upload gets 503 with Retry-After
    video_jobs: int = 2  # video jobs at once; another upload gets 503 with Retry-After
    job_files_seconds: float = 900.0  # a finished job's video and CSV are deleted after this long
    upload_idle_seconds: float = 30.0  # an upload that sends nothing for this long is dropped (408)
    upload_seconds: float = 300.0  # an upload not whole after this long is dropped (408): it holds a job slot
    sockets: int = 64  # WebSockets open at once; another is told so and closed (1013: try again later)
    socket_idle_seconds: float = 300.0  # a WebSocket that sends nothing for this long is closed
    switch_seconds: float = 2.0  # at most one model switch per this many seconds (429 with Retry-After)

    def sizes_mb(self) -> dict[str, float]:
        """The upload size limits in MB, as the page shows them."""
        return {"frame": self.frame / MB, "image": self.image / MB, "video": self.video / MB}


class ServingState:
    """One recognizer shared by every request: face detection runs under one lock and the model under another, so
    a large image's detection does not hold up other clients' frames at the model.

    `start_uri` is always offered beside the catalogue, so a model given on the command line can be switched back to.
    """

    def __init__(
        self,
        start_uri: str,
        tracking_uri: str | None = None,
        detector: str = "auto",
        tta: str = "crops",
        smoothing: float = 0.0,
        limits: Limits = Limits(),
    ):
        check_settings(tta, smoothing)
        self.tracking_uri, self.detector_name = tracking_uri, detector
        self.tta, self.smoothing, self.limits = tta, smoothing, limits
        self.start_uri = start_uri
        self.lock, self.detect_lock = threading.Lock(), threading.Lock()
        self.generation, self._switched_at = 0, -math.inf
        self._detector, self._whole_image = make_detector(detector), make_detector("skip")
        self._views: dict[str, EmotionRecognizer] = {}
        self.serving: ModelEntry = self._load(start_uri)

    def models(self) -> list[ModelEntry]:
        """What the model picker offers: the catalogue, and the start model when the catalogue lacks it."""
        entries = available_models(self.tracking_uri)
        if all(e.uri != self.start_uri for e in entries):
            entries.append(describe_model(self.start_uri, self.tracking_uri))
        return entries

    def switch(self, uri: str) -> ModelEntry:
        """Serve the model `uri` (one of models()); on any error the current model keeps serving.

        The model already serving is not loaded again, and switches come at most one per limits.switch_seconds.
        """
        if uri == self.serving.uri:
            return self.serving
        offered = [e.uri for e in self.models()]
        if uri not in offered:
            raise UnknownModel(f"unknown model {shown(uri)}: pick one of {', '.join(offered)}")
        wait = self._switched_at + self.limits.switch_seconds - time.monotonic()
        if wait > 0:
            raise TooSoon(
                f"the model was switched {self.limits.switch_seconds:g} s ago or less: try again", math.ceil(wait)
            )
        self._switched_at = time.monotonic()
        return self._load(uri)

    def serialized(self, tta: str) -> SerializedRecognizer:
        """The serving model with test-time augmentation `tta`, for a long job that shares the locks frame by frame."""
        with self.lock:
            return SerializedRecognizer(self._views[tta], self.lock, self.detect_lock)

    def analyse(
        self, frame: np.ndarray, tta: str, whole: bool = False
    ) -> tuple[list[Box], np.ndarray, EmotionRecognizer]:
        """Face boxes and class probabilities of a BGR frame, and the recognizer that made them; `whole`: the whole
        frame is one face (the skip detector)."""
        with self.lock:
            recognizer = self._views[tta]
        if whole:  # cropped from a copy at the model's input size, so that a thin frame's square crop stays small
            gray = to_gray(frame)
            boxes = self._whole_image(frame, gray)
            small, _ = downscale(gray, recognizer.image_size)
            faces = recognizer.crop(small, self._whole_image(small, small))
        else:
            with self.detect_lock:
                boxes, gray = recognizer.detect(frame)
            faces = recognizer.crop(gray, boxes)
        with self.lock:
            return boxes, recognizer.predict_proba(faces), recognizer

    def _load(self, uri: str) -> ModelEntry:
        entry = describe_model(uri, self.tracking_uri)
        base = EmotionRecognizer.from_uri(uri, tracking_uri=self.tracking_uri, detector=self._detector)
        views = {mode: EmotionRecognizer(base.model, base.metadata, self._detector, tta=mode) for mode in TTA_MODES}
        with self.lock:
            self._views, self.serving = views, entry
            self.generation += 1
        return entry


class SerializedRecognizer:
    """A recognizer whose detector and model take the serving locks per call, so a video job and live
    frames take turns frame by frame."""

    def __init__(self, recognizer: EmotionRecognizer, lock: threading.Lock, detect_lock: threading.Lock):
        self._recognizer, self._lock, self._detect_lock = recognizer, lock, detect_lock
        self.class_names, self.crop, self.face_prediction = (
            recognizer.class_names,
            recognizer.crop,
            recognizer.face_prediction,
        )

    def detect(self, frame: np.ndarray) -> tuple[list[Box], np.ndarray]:
        with self._detect_lock:
            return self._recognizer.detect(frame)

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._recognizer.predict_proba(faces)


class Session:
    """One browser connection: its TTA, smoothing and uncertainty settings, and its faces followed across frames."""

    def __init__(self, state: ServingState):
        self.state, self.tta, self.uncertain_below = state, state.tta, 0.0
        self.smoother, self.generation = FaceSmoother(state.smoothing), state.generation

    def configure(self, settings: dict) -> dict:
        """Apply {"tta": ..., "smoothing": ..., "uncertain_below": ...} (any may be left out; no other key); returns
        the settings now in use."""
        check_names(list(settings), SETTINGS, "setting")
        tta = settings.get("tta", self.tta)
        smoothing = settings.get("smoothing", self.smoother.strength)
        uncertain_below = settings.get("uncertain_below", self.uncertain_below)
        check_settings(tta, smoothing, uncertain_below)
        self.tta, self.smoother.strength, self.uncertain_below = tta, float(smoothing), float(uncertain_below)
        return {"tta": self.tta, "smoothing": self.smoother.strength, "uncertain_below": self.uncertain_below}

    def predict(self, frame: np.ndarray) -> list[FacePrediction]:
        """Every face of a BGR frame with its probabilities smoothed over this session's previous frames."""
        boxes, probs, recognizer = self.state.analyse(frame, self.tta)
        if self.generation != self.state.generation:  # another model: its classes start afresh
            self.smoother, self.generation = FaceSmoother(self.smoother.strength), self.state.generation
        _, probs = self.smoother.update(boxes, probs)
        return [recognizer.face_prediction(box, p, self.uncertain_below) for box, p in zip(boxes, probs, strict=True)]


def check_settings(tta, smoothing, uncertain_below=0.0) -> None:
    """Refuse settings a client sent that are not a TTA mode, a smoothing in [0, 1) or a threshold in [0, 1]."""
    if tta not in TTA_MODES:
        raise FerLabError(f"unknown tta {shown(tta)}: expected one of {', '.join(TTA_MODES)}")
    if not _number(smoothing) or not 0.0 <= smoothing < 1.0:
        raise FerLabError(f"smoothing {shown(smoothing)} must be a number in [0, 1) (0: off)")
    if not _number(uncertain_below) or not 0.0 <= uncertain_below <= 1.0:
        raise FerLabError(
            f"uncertain_below {shown(uncertain_below)} must be a number in [0, 1] (0: off; faces whose top "
            "probability is below it are labelled uncertain)"
        )


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
