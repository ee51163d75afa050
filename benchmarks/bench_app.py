"""Browser app speed: frames per second through the page and server ms per frame, by detector and TTA mode.

    .venv/bin/python benchmarks/bench_app.py [--seconds 10] [--model URI] [--detectors haar,auto]
        [--tta none,flip,crops]

Headless Chromium opens the app with a fake camera filming one face (a 640x480 portrait) and runs the page as a
user would: a JPEG frame over the WebSocket as soon as the previous answer arrives. FPS = frames answered per
second (JPEG encoding, transfer, decoding, detection, classification and drawing, one frame in flight);
server ms = decode + detect + classify per frame. The model is the app's default (champion, else bundled)
unless --model names one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_lab.app.harness import chromium, chromium_problem, face_frames, serve_in_thread, write_y4m
from fer_lab.app.serving import ServingState
from fer_lab.inference.catalog import default_model_uri
from fer_lab.tracking.hardware import cpu_description

WARMUP_FRAMES = 3
TIMEOUT_S = 60


def measure(page, seconds: float) -> tuple[float, float]:
    """(frames per second, mean server ms) over `seconds`, after WARMUP_FRAMES frames with the current settings."""

    def stats() -> dict:
        return page.evaluate("({...window.ferLab.stats})")

    start = stats()["frames"]
    page.wait_for_function(f"window.ferLab.stats.frames >= {start + WARMUP_FRAMES}", timeout=TIMEOUT_S * 1000)
    before, t0 = stats(), time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    after, elapsed = stats(), time.perf_counter() - t0
    frames = after["frames"] - before["frames"]
    return frames / elapsed, (after["serverMs"] - before["serverMs"]) / max(frames, 1)


def bench(
    model_uri: str, detectors: Sequence[str], ttas: Sequence[str], seconds: float, tracking_uri: str | None = None
) -> list[tuple[str, str, float, float]]:
    """(detector, tta, FPS, server ms) for every detector and TTA mode; one app and browser per detector."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        camera = write_y4m(Path(folder) / "camera.y4m", face_frames(10))
        for detector in detectors:
            state = ServingState(model_uri, tracking_uri, detector, ttas[0])
            with serve_in_thread(state) as url, chromium(camera) as browser:
                page = browser.new_page()
                page.goto(url)
                page.wait_for_function("window.ferLab.stats.frames > 0", timeout=TIMEOUT_S * 1000)
                for tta in ttas:
                    page.select_option("#tta", tta)
                    rows.append((detector, tta, *measure(page, seconds)))
    return rows


def render(rows: Sequence[tuple[str, str, float, float]]) -> str:
    lines = ["| detector | tta | FPS through the page | server ms / frame |", "|---|---|---:|---:|"]
    lines += [f"| {d} | {t} | {fps:.1f} | {ms:.1f} |" for d, t, fps, ms in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--model", help="model URI (default: the champion, else bundled)")
    parser.add_argument("--detectors", default="haar,auto")
    parser.add_argument("--tta", default="none,flip,crops")
    parser.add_argument("--tracking-uri")
    args = parser.parse_args(argv)
    problem = chromium_problem()
    if problem:
        print(f"bench_app: cannot run: {problem}", file=sys.stderr)
        return 2
    uri = args.model or default_model_uri(args.tracking_uri)
    rows = bench(uri, args.detectors.split(","), args.tta.split(","), args.seconds, args.tracking_uri)
    print(f"model {uri}, {args.seconds:g} s per row, one face in 640x480 frames, on {cpu_description()}")
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
