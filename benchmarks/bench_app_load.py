"""The browser app under load, on loopback: webcam clients alone, then beside a flood of video uploads.

    .venv/bin/python benchmarks/bench_app_load.py [--clients 8] [--uploads 20] [--seconds 20] [--model URI]
        [--tta crops] [--detector haar]

The app runs as `python -m fer_lab.app` on 127.0.0.1 in its own process. Each webcam client is a WebSocket that
sends a 640x480 JPEG of a face as soon as the previous answer arrives (as the page does); a prober loads the page
(GET /) every 0.2 s. In the second phase --uploads clients each post a short video over and over (a refused
upload, 503 while every job slot is taken, is posted again after a second). Prints per-client frames/s, frame
latency and page latency (p50/p95) for both phases side by side.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_lab.app.harness import face_frames, write_mp4
from fer_lab.tracking.hardware import cpu_description

HOST = "127.0.0.1"
START_TIMEOUT_S = 120


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="webcam clients (WebSockets)")
    parser.add_argument("--uploads", type=int, default=20, help="clients posting videos in the second phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--model", help="model URI (default: the app's, champion else bundled)")
    parser.add_argument("--tta", default="crops", help="the webcam's test-time augmentation (the app's default)")
    parser.add_argument("--detector", default="haar")
    args = parser.parse_args(argv)
    frame = cv2.imencode(".jpg", face_frames(1)[0], [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    with tempfile.TemporaryDirectory() as folder, AppProcess(args) as port:
        clip = short_clip(Path(folder) / "clip.mp4")
        rows = [phase(port, frame, clip, args.clients, 0, args.seconds)]
        rows.append(phase(port, frame, clip, args.clients, args.uploads, args.seconds))
    setting = f"{args.detector} detector, tta={args.tta}, {args.seconds:g} s a phase"
    print(f"# app load on {HOST}: {setting}; {cpu_description()}")
    print(render(rows))
    return 0


class AppProcess:
    """`python -m fer_lab.app` on a free loopback port, until the block ends; yields the port."""

    def __init__(self, args: argparse.Namespace):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", "fer_lab.app", "--host", HOST, "--port", str(self.port)]
        command += ["--detector", args.detector, "--tta", args.tta, *(["--model", args.model] if args.model else [])]
        self.command = command

    def __enter__(self) -> int:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the app did not start: {self.process.stderr.read()[-2000:]}")
            try:
                get_page(self.port)
                return self.port
            except OSError:
                time.sleep(0.2)
        self.process.kill()
        raise SystemExit(f"the app did not answer within {START_TIMEOUT_S} s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(30)


def short_clip(path: Path, frames: int = 20) -> bytes:
    return write_mp4(path, face_frames(frames, (320, 240))).read_bytes()


def get_page(port: int) -> float:
    """Seconds one GET / took."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise OSError(f"GET / answered {response.status}")
    finally:
        connection.close()
    return time.perf_counter() - started


def post_video(port: int, clip: bytes) -> int:
    """The status of one video upload."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + clip
        + f"\r\n--{boundary}--\r\n".encode()
    )
    connection = http.client.HTTPConnection(HOST, port, timeout=300)
    try:
        connection.request("POST", "/api/video", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def phase(port: int, frame: bytes, clip: bytes, clients: int, uploads: int, seconds: float) -> dict:
    """Every client's frame latencies, the page's latencies and the uploads' statuses over `seconds`."""
    from websockets.sync.client import connect

    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(clients)]
    page: list[float] = []
    statuses: list[int] = []

    def webcam(index: int) -> None:
        with connect(f"ws://{HOST}:{port}/ws", origin=f"http://{HOST}:{port}", max_size=None) as ws:
            while not stop.is_set():
                started = time.perf_counter()
                ws.send(frame)
                ws.recv(timeout=60)
                latencies[index].append(time.perf_counter() - started)

    def prober() -> None:
        while not stop.is_set():
            page.append(get_page(port))
            stop.wait(0.2)

    def uploader() -> None:
        while not stop.is_set():
            statuses.append(post_video(port, clip))
            if statuses[-1] == 503:
                stop.wait(1.0)

    threads = [threading.Thread(target=webcam, args=(i,)) for i in range(clients)]
    threads += [threading.Thread(target=prober)] + [threading.Thread(target=uploader) for _ in range(uploads)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(300)
    frames = [x for client in latencies for x in client]
    return {
        "clients": clients,
        "uploads": uploads,
        "fps": statistics.mean(len(client) / seconds for client in latencies) if clients else 0.0,
        "frame_ms": percentiles(frames),
        "page_ms": percentiles(page),
        "videos_done": statuses.count(200),
        "videos_refused": statuses.count(503),
        "videos_failed": len(statuses) - statuses.count(200) - statuses.count(503),
    }


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """(p50, p95) in ms."""
    if not seconds:
        return float("nan"), float("nan")
    values = np.asarray(seconds) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def render(rows: list[dict]) -> str:
    lines = [
        "| webcam clients | video uploaders | frames/s per client | frame p50 ms | frame p95 ms | GET / p50 ms "
        "| GET / p95 ms | videos done | videos refused (503) | videos failed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clients']} | {r['uploads']} | {r['fps']:.1f} | {r['frame_ms'][0]:.0f} | {r['frame_ms'][1]:.0f} "
            f"| {r['page_ms'][0]:.0f} | {r['page_ms'][1]:.0f} | {r['videos_done']} | {r['videos_refused']} "
            f"| {r['videos_failed']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
