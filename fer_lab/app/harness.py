"""The app driven as a user drives it, for tests and benchmarks: a fake camera that films a real face, the app
on a free port in a background thread, and Chromium with that camera."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from fer_lab.app.serving import ServingState

CHROMIUM = "/usr/bin/chromium"
FRAME_SIZE = (640, 480)
START_TIMEOUT_S = 30


def face_photo() -> np.ndarray:
    """Grace Hopper's portrait (BGR), the sample image matplotlib ships."""
    from matplotlib import cbook

    return cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.IMREAD_COLOR)


def face_crop(size: int = 48) -> np.ndarray:
    """The portrait's face as FER-2013 stores faces: a size x size grayscale crop (Haar finds no face in it at 48)."""
    x, y, side = 150, 102, 230  # the face's box, where the Haar detector finds it
    gray = cv2.cvtColor(face_photo()[y : y + side, x : x + side], cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


def face_frames(count: int = 10, size: tuple[int, int] = FRAME_SIZE) -> list[np.ndarray]:
    """`count` frames of the portrait on a grey background, drifting a few pixels from frame to frame."""
    width, height = size
    photo = face_photo()
    scale = 0.9 * height / photo.shape[0]
    photo = cv2.resize(
        photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )
    frames = []
    for i in range(count):
        frame = np.full((height, width, 3), 110, np.uint8)
        x = (width - photo.shape[1]) // 2 + 4 * (i % 5) - 8
        y = (height - photo.shape[0]) // 2
        frame[y : y + photo.shape[0], x : x + photo.shape[1]] = photo
        frames.append(frame)
    return frames


def write_y4m(path: Path, frames: Iterable[np.ndarray], fps: int = 30) -> Path:
    """A YUV4MPEG2 (I420) video: the file format Chromium's fake camera plays, in a loop."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with Path(path).open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return Path(path)


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float = 10.0) -> Path:
    """An MPEG-4 video (mp4v) of BGR `frames`, the kind of file users upload."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return Path(path)


def chromium_problem() -> str | None:
    """Why browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


@contextmanager
def serve_in_thread(state: ServingState, host: str = "127.0.0.1") -> Iterator[str]:
    """The app serving `state` on a free port until the block ends; yields its URL."""
    import uvicorn

    from fer_lab.app.server import create_app, server_config

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(server_config(create_app(state), host, port, state.limits.frame))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the app did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)


@contextmanager
def chromium(camera_video: Path) -> Iterator:
    """Headless Chromium whose camera plays `camera_video` (.y4m) and needs no permission prompt."""
    from playwright.sync_api import sync_playwright

    args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_video}",
        "--disable-dev-shm-usage",
    ]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()
