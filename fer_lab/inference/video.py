"""Video in (camera or file) and out (annotated video, per-face CSV, window), with clear errors."""

from __future__ import annotations

import csv
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from fer_lab.errors import FerLabError
from fer_lab.inference.faces import Box
from fer_lab.inference.recognizer import top_label

DEFAULT_FPS = 30.0
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}
QUIT_KEYS = (ord("q"), ord("Q"), 27)


class VideoSource:
    """Frames of a camera (an index: 0, 1, ...) or a video file (read by FFmpeg), with their time in seconds."""

    def __init__(self, source: int | str):
        self.is_camera = isinstance(source, int) or str(source).strip().isdigit()
        self.name = f"camera {int(source)}" if self.is_camera else str(source)
        if not self.is_camera and not Path(str(source)).is_file():
            raise FerLabError(
                f"video file {source} not found; pass source=<camera index> or source=<path to a video file>"
            )
        # A file is read by FFmpeg only: OpenCV's other readers would take image files as one-frame videos.
        self.capture = (
            cv2.VideoCapture(int(source)) if self.is_camera else cv2.VideoCapture(str(source), cv2.CAP_FFMPEG)
        )
        if not self.capture.isOpened():
            raise FerLabError(self._unreadable())
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and 1 <= fps <= 240 else DEFAULT_FPS

    def frames(self) -> Iterator[tuple[int, float, np.ndarray]]:
        """(frame index, time in seconds, BGR frame) until the video ends or the camera stops."""
        start, index = time.perf_counter(), 0
        while True:
            ok, frame = self.capture.read()
            if not ok or frame is None:
                if index == 0:
                    raise FerLabError(self._unreadable())
                return
            seconds = time.perf_counter() - start if self.is_camera else index / self.fps
            yield index, seconds, frame
            index += 1

    def close(self) -> None:
        self.capture.release()

    def _unreadable(self) -> str:
        if self.is_camera:
            return (
                f"cannot open {self.name}: no camera at that index, or it is busy or not permitted. "
                "Connect a camera, try another index (source=1), or pass a video file (source=clip.mp4)"
            )
        return (
            f"cannot read video {self.name}: not a video OpenCV can decode (corrupt file or "
            f"unsupported codec). Convert it, e.g. `ffmpeg -i {self.name} -c:v libx264 fixed.mp4`"
        )


class VideoSink:
    """An annotated video file, opened on the first frame (when the frame size is known)."""

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), fps
        if self.path.suffix.lower() not in FOURCC:
            raise FerLabError(
                f"cannot write video {self.path}: unsupported extension "
                f"{self.path.suffix or '(none)'}; use one of {', '.join(FOURCC)}"
            )
        self.writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*FOURCC[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (frame.shape[1], frame.shape[0]))
            if not self.writer.isOpened():
                raise FerLabError(f"cannot write video {self.path}: check that its folder is writable")
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


class FaceCsv:
    """One CSV row per detected face per frame: time, box, track id, label (uncertain when the top probability is
    below `uncertain_below`) and all probabilities."""

    def __init__(self, path: str | Path, class_names: Sequence[str], uncertain_below: float = 0.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.file = self.path.open("w", newline="")
        except OSError as err:
            raise FerLabError(f"cannot write CSV {self.path}: {err.strerror}") from None
        self.class_names, self.uncertain_below = tuple(class_names), uncertain_below
        self.writer = csv.writer(self.file)
        self.writer.writerow(
            [
                "frame",
                "time_s",
                "face",
                "track",
                "x",
                "y",
                "w",
                "h",
                "label",
                "confidence",
                *(f"p_{name}" for name in self.class_names),
            ]
        )

    def write(self, frame: int, seconds: float, boxes: Sequence[Box], tracks: Sequence[int], probs: np.ndarray) -> None:
        for face, (box, track, p) in enumerate(zip(boxes, tracks, probs, strict=True)):
            self.writer.writerow(
                [
                    frame,
                    f"{seconds:.3f}",
                    face,
                    track,
                    box.x,
                    box.y,
                    box.w,
                    box.h,
                    top_label(p, self.class_names, self.uncertain_below),
                    f"{np.max(p):.4f}",
                    *(f"{v:.4f}" for v in p),
                ]
            )

    def close(self) -> None:
        self.file.close()


class Window:
    """An OpenCV window; refuses clearly when this OpenCV build or session cannot show one."""

    def __init__(self, title: str):
        problem = gui_problem()
        if problem:
            raise FerLabError(
                f"cannot open a window: {problem}. Run headless with display=false "
                "(and output=annotated.mp4 and/or csv=emotions.csv)"
            )
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)

    def show(self, frame: np.ndarray) -> bool:
        """Show `frame`; False once the user pressed q or Esc or closed the window."""
        cv2.imshow(self.title, frame)
        key = cv2.waitKey(1) & 0xFF
        closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        return key not in QUIT_KEYS and not closed

    def close(self) -> None:
        cv2.destroyWindow(self.title)


def gui_problem() -> str | None:
    """Why no window can be shown here, or None if one can."""
    match = re.search(r"GUI:\s*(\S+)", cv2.getBuildInformation())
    if match and match.group(1).upper() == "NONE":
        return (
            "this OpenCV build has no GUI support (opencv-python-headless). Install the GUI build: "
            "`.venv/bin/pip uninstall -y opencv-python-headless && .venv/bin/pip install 'opencv-python<5'`"
        )
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set: a server or SSH session without X forwarding)"
    return None
