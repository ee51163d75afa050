"""Uploads: the faces of one image, and video jobs that write an annotated video and a per-face CSV."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from omegaconf import OmegaConf

from fer_lab.app.errors import Busy
from fer_lab.app.serving import Limits, SerializedRecognizer, ServingState
from fer_lab.app.sniff import IMAGE_FORMATS, check_pixels, image_header, video_suffix
from fer_lab.errors import FerLabError
from fer_lab.inference.faces import Box
from fer_lab.inference.files import face_dict
from fer_lab.inference.recognizer import FacePrediction
from fer_lab.live import LiveSummary
from fer_lab.live import run as run_live

ANNOTATED, CSV = "annotated.mp4", "faces.csv"
NO_FACE = "no face found"
NO_FACE_IN_IMAGE = "no face found: if the image is a face crop, tick 'The image is a face crop' (face_crop=true)"
SCORED_WHOLE = "no face detected: the whole image was scored as a face crop"
SMALL_IMAGE = 96
"""Pixels: an image at most this wide and tall with no face found is scored whole, as a face crop (FER-2013: 48)."""


def decode_image(data: bytes, max_pixels: int, what: str = "upload") -> np.ndarray:
    """The BGR pixels of an encoded JPEG, PNG, BMP or WebP image, refused before decoding when its header
    declares more than `max_pixels` pixels."""
    check_pixels(image_header(data, what), max_pixels, what)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FerLabError(f"the {what} is a damaged {IMAGE_FORMATS} file: OpenCV cannot decode it")
    return image


def faces_result(image: np.ndarray, faces: Sequence[FacePrediction], started: float, no_face: str = NO_FACE) -> dict:
    """The JSON answer for one image or frame: its size, its faces and the server time it took; `no_face` is its
    message when it has no face."""
    result = {
        "width": image.shape[1],
        "height": image.shape[0],
        "faces": [face_dict(f) for f in faces],
        "server_ms": round(1000 * (time.perf_counter() - started), 1),
    }
    return result if faces else {**result, "message": no_face}


def image_result(state: ServingState, data: bytes, tta: str, face_crop: bool, uncertain_below: float = 0.0) -> dict:
    """Every face of an uploaded image, largest first; the whole image as one face when `face_crop` is set, or when
    no face is found in a SMALL_IMAGE (the answer's `whole_image` says whether it was). A face whose top probability
    is below `uncertain_below` is labelled uncertain."""
    started = time.perf_counter()
    image = decode_image(data, state.limits.image_pixels, "image")
    boxes, probs, recognizer = state.analyse(image, tta, whole=face_crop)
    small = not boxes and max(image.shape[:2]) <= SMALL_IMAGE
    if small:
        boxes, probs, recognizer = state.analyse(image, tta, whole=True)
    faces = [recognizer.face_prediction(b, p, uncertain_below) for b, p in zip(boxes, probs, strict=True)]
    result = faces_result(image, faces, started, NO_FACE_IN_IMAGE)
    return {**result, "whole_image": face_crop or small, **({"message": SCORED_WHOLE} if small else {})}


class ImageJobs:
    """Uploaded images decoded and analysed at once: at most limits.image_jobs, as each may take a few hundred MB
    while it is decoded; another upload is refused (503) rather than queued."""

    def __init__(self, state: ServingState):
        self.state = state
        self._slots = threading.BoundedSemaphore(state.limits.image_jobs)

    def run(self, image: BinaryIO, tta: str, face_crop: bool, uncertain_below: float = 0.0) -> dict:
        """image_result of an uploaded image file, read once the job holds a slot."""
        if not self._slots.acquire(blocking=False):
            raise Busy(
                f"the app is analysing as many images as it does at once ({self.state.limits.image_jobs}): send yours "
                "again shortly",
                1,
            )
        try:
            return image_result(self.state, image.read(), tta, face_crop, uncertain_below)
        finally:
            self._slots.release()


def check_video_size(path: Path, max_pixels: int) -> None:
    """Refuse a video whose frames, as its container declares them, have more than `max_pixels` pixels."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        width, height = (int(capture.get(p)) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    if width * height > max_pixels:
        raise FerLabError(
            f"the video's frames are {width}x{height} pixels, over the limit of {max_pixels / 1e6:g} megapixels: "
            "send a smaller video"
        )


class JobStopped(FerLabError):
    """A video job stopped before the end of its video."""


class VideoJobs:
    """Video jobs, each in a folder of its own under one temporary folder that close() removes.

    At most limits.video_jobs run at once (a request takes a slot with reserve() before it reads the upload); a job
    reads at most limits.video_frames frames for at most limits.video_seconds, and stops when its client is gone.
    A finished job's files are deleted limits.job_files_seconds after they were written.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.root = Path(tempfile.mkdtemp(prefix="fer_lab_app_"))
        self._slots = threading.BoundedSemaphore(limits.video_jobs)

    def reserve(self) -> None:
        """Take a job slot, or refuse the upload while every slot is taken."""
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{self.limits.video_jobs} videos are being analysed: send yours again shortly", 30)

    def release(self) -> None:
        self._slots.release()

    def run(
        self,
        state: ServingState,
        video: BinaryIO,
        tta: str,
        smoothing: float,
        cancelled: threading.Event,
        uncertain_below: float = 0.0,
    ) -> dict:
        """Run the live loop over an uploaded video (its slot reserved); the answer links its annotated video and
        CSV. The upload is read only if its first bytes are those of an MP4/MOV, WebM/MKV or AVI container."""
        self.expire()
        suffix = video_suffix(video.read(16))
        video.seek(0)
        job = uuid.uuid4().hex
        folder = self.root / job
        folder.mkdir()
        source = folder / f"upload{suffix}"
        with source.open("wb") as out:
            shutil.copyfileobj(video, out)
        try:
            check_video_size(source, self.limits.video_pixels)
        except FerLabError:
            shutil.rmtree(folder)
            raise
        cfg = OmegaConf.create(
            {
                "source": str(source),
                "display": False,
                "output": str(folder / ANNOTATED),
                "csv": str(folder / CSV),
                "smoothing": smoothing,
                "uncertain_below": uncertain_below,
                "show_fps": False,
                "max_frames": self.limits.video_frames,
            }
        )
        guarded = _GuardedJob(state.serialized(tta), time.monotonic() + self.limits.video_seconds, cancelled)
        note = None
        try:
            summary = run_live(cfg, guarded)
            if summary.frames >= self.limits.video_frames:
                note = f"stopped after {summary.frames} frames, the most a video job reads"
        except JobStopped as stop:
            if cancelled.is_set():
                shutil.rmtree(folder)
                raise
            summary, note = guarded.summary(), str(stop)
        except FerLabError as err:
            shutil.rmtree(folder)
            raise FerLabError(str(err).replace(str(source), source.name)) from None
        source.unlink()
        return {
            "job": job,
            "frames": summary.frames,
            "faces": summary.faces,
            "seconds": round(summary.seconds, 2),
            "video": f"/api/jobs/{job}/{ANNOTATED}",
            "csv": f"/api/jobs/{job}/{CSV}",
            **({"note": note} if note else {}),
        }

    def file(self, job: str, name: str) -> Path | None:
        """A job's output file, or None when there is no such job or file."""
        self.expire()
        if not re.fullmatch(r"[0-9a-f]{32}", job) or name not in (ANNOTATED, CSV):
            return None
        path = self.root / job / name
        return path if path.is_file() else None

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def expire(self) -> None:
        """Delete the folders of jobs written more than limits.job_files_seconds ago (the app calls this every
        minute and before each job)."""
        oldest = time.time() - self.limits.job_files_seconds
        for folder in self.root.iterdir():
            try:
                old = folder.stat().st_mtime < oldest
            except FileNotFoundError:  # deleted by another request meanwhile
                continue
            if old:
                shutil.rmtree(folder, ignore_errors=True)


class _GuardedJob:
    """A video job's recognizer: before each frame, stops the job past its deadline or once its client is gone."""

    def __init__(self, recognizer: SerializedRecognizer, deadline: float, cancelled: threading.Event):
        self._recognizer, self._deadline, self._cancelled = recognizer, deadline, cancelled
        self.class_names, self.crop, self.face_prediction = (
            recognizer.class_names,
            recognizer.crop,
            recognizer.face_prediction,
        )
        self.frames = self.faces = 0
        self._started = time.perf_counter()

    def detect(self, frame: np.ndarray) -> tuple[list[Box], np.ndarray]:
        if self._cancelled.is_set():
            raise JobStopped("the client left")
        if time.monotonic() > self._deadline:
            raise JobStopped(f"stopped after {self.frames} frames, at the time limit of a video job")
        boxes, gray = self._recognizer.detect(frame)
        self.frames, self.faces = self.frames + 1, self.faces + len(boxes)
        return boxes, gray

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        return self._recognizer.predict_proba(faces)

    def summary(self) -> LiveSummary:
        """What the job had done when it stopped."""
        return LiveSummary(self.frames, self.faces, time.perf_counter() - self._started)
