"""Uploads: the faces of one image, and video jobs that write an annotated video and a per-face CSV."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from omegaconf import OmegaConf

from fer_lab.app.serving import ServingState
from fer_lab.errors import FerLabError
from fer_lab.inference.files import face_dict
from fer_lab.inference.recognizer import FacePrediction

ANNOTATED, CSV = "annotated.mp4", "faces.csv"
NO_FACE = "no face found"


def decode_image(data: bytes, what: str = "upload") -> np.ndarray:
    """The BGR pixels of an encoded image (JPEG, PNG, ...)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise FerLabError(f"the {what} is not an image OpenCV can decode: send a JPEG, PNG, BMP or WebP file")
    return image


def faces_result(image: np.ndarray, faces: Sequence[FacePrediction], started: float) -> dict:
    """The JSON answer for one image or frame: its size, its faces and the server time it took."""
    result = {
        "width": image.shape[1],
        "height": image.shape[0],
        "faces": [face_dict(f) for f in faces],
        "server_ms": round(1000 * (time.perf_counter() - started), 1),
    }
    return result if faces else {**result, "message": NO_FACE}


def image_result(state: ServingState, data: bytes, tta: str) -> dict:
    """Every face of an uploaded image, largest first."""
    started = time.perf_counter()
    image = decode_image(data)
    boxes, probs, recognizer = state.analyse(image, tta)
    return faces_result(image, [recognizer.face_prediction(b, p) for b, p in zip(boxes, probs, strict=True)], started)


class VideoJobs:
    """Video jobs, each in a folder of its own under one temporary folder that close() removes."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="fer_lab_app_"))

    def run(self, state: ServingState, video: BinaryIO, filename: str, tta: str, smoothing: float) -> dict:
        """Run the live loop over an uploaded video; the answer links its annotated video and CSV."""
        from fer_lab.live import run

        job = uuid.uuid4().hex
        folder = self.root / job
        folder.mkdir()
        source = folder / f"upload{_suffix(filename)}"
        with source.open("wb") as out:
            shutil.copyfileobj(video, out)
        cfg = OmegaConf.create(
            {
                "source": str(source),
                "display": False,
                "output": str(folder / ANNOTATED),
                "csv": str(folder / CSV),
                "smoothing": smoothing,
                "show_fps": False,
                "max_frames": None,
            }
        )
        try:
            summary = run(cfg, state.serialized(tta))
        except FerLabError as err:
            shutil.rmtree(folder)
            raise FerLabError(str(err).replace(str(source), filename or "upload")) from None
        source.unlink()
        return {
            "job": job,
            "frames": summary.frames,
            "faces": summary.faces,
            "seconds": round(summary.seconds, 2),
            "video": f"/api/jobs/{job}/{ANNOTATED}",
            "csv": f"/api/jobs/{job}/{CSV}",
        }

    def file(self, job: str, name: str) -> Path | None:
        """A job's output file, or None when there is no such job or file."""
        if not re.fullmatch(r"[0-9a-f]{32}", job) or name not in (ANNOTATED, CSV):
            return None
        path = self.root / job / name
        return path if path.is_file() else None

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _suffix(filename: str) -> str:
    """The upload's extension when it is a plain one (it helps OpenCV pick a demuxer)."""
    suffix = Path(filename or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".video"
