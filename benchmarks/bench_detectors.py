"""Face detectors side by side on the same 640x480 frames: recall, false detections and milliseconds per frame.

    .venv/bin/python benchmarks/bench_detectors.py [--data data] [--faces 56] [--detectors haar,mtcnn]
        [--yunet-model face_detection_yunet_2023mar.onnx]

Face frames: real faces (FER-2013 PublicTest crops from <data>/fer2013/test, and CK+ crops from <data>/ckplus48 when
present, the same number from each class) pasted at random places onto face-free backgrounds, once per face side
in --sides. A face counts as found when a detected box overlaps the pasted square with IoU >= 0.3; every other box
is a false detection. Face-free frames: the same kind of backgrounds (smooth gradients, blobs, stripes and noise,
drawn from a fixed seed) with nothing pasted. Each detector runs with its conf/detector defaults (detect_width
320), the first frame untimed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from fer_lab.inference.detectors import make_detector
from fer_lab.inference.faces import Box
from fer_lab.tracking.hardware import cpu_description

ROOT = Path(__file__).resolve().parents[1]
H, W = 480, 640


def background(rng: np.random.Generator) -> np.ndarray:
    """A face-free BGR frame: a smooth gradient with blurred blobs, stripes and sensor noise."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    base = 60 + 120 * ((np.cos(angle) * xx + np.sin(angle) * yy) / (W + H) + rng.uniform(0, 0.3))
    frame = np.repeat(base[..., None], 3, axis=2) * rng.uniform(0.7, 1.2, 3)
    for _ in range(rng.integers(3, 9)):
        centre = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        axes = (int(rng.integers(10, 120)), int(rng.integers(10, 120)))
        cv2.ellipse(frame, centre, axes, float(rng.uniform(0, 180)), 0, 360, rng.uniform(0, 255, 3).tolist(), -1)
    if rng.random() < 0.5:
        period = int(rng.integers(8, 40))
        frame[:, (np.arange(W) // period) % 2 == 0] *= 0.8
    frame = cv2.GaussianBlur(frame, (0, 0), float(rng.uniform(1, 4)))
    frame += rng.normal(0, 6, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def real_faces(data: Path, per_class: int) -> list[tuple[str, np.ndarray]]:
    """(dataset, grayscale crop) pairs: `per_class` faces of every FER-2013 test class and CK+ class found."""
    faces = []
    for name, root, pattern in (("FER-2013", data / "fer2013" / "test", "*.jpg"), ("CK+", data / "ckplus48", "*.png")):
        for folder in sorted(p for p in root.glob("*") if p.is_dir()):
            for path in sorted(folder.glob(pattern))[:per_class]:
                faces.append((name, cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)))
    if not faces:
        raise SystemExit(f"no faces under {data}/fer2013/test or {data}/ckplus48: run `make data` or pass --data")
    return faces


def face_frames(faces, sides: list[int], seed: int) -> list[tuple[int, str, np.ndarray, Box]]:
    """(side, dataset, frame, pasted box) for every face at every side, each on its own background."""
    rng = np.random.default_rng(seed)
    out = []
    for side in sides:
        for dataset, face in faces:
            frame = background(rng)
            x, y = int(rng.integers(0, W - side)), int(rng.integers(0, H - side))
            frame[y : y + side, x : x + side] = cv2.cvtColor(cv2.resize(face, (side, side)), cv2.COLOR_GRAY2BGR)
            out.append((side, dataset, frame, Box(x, y, side, side)))
    return out


def run(detector, frames: list[np.ndarray]) -> tuple[list[list[Box]], float]:
    """Boxes per frame and mean milliseconds per frame (first frame untimed)."""
    detector(frames[0], cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY))
    boxes, start = [], time.perf_counter()
    for frame in frames:
        boxes.append(detector(frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)))
    return boxes, 1000 * (time.perf_counter() - start) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="folder with fer2013/test and ckplus48")
    parser.add_argument("--per-class", type=int, default=4, help="faces per class and dataset (default 4)")
    parser.add_argument("--sides", default="64,96,160,240", help="pasted face sides in pixels")
    parser.add_argument("--empty", type=int, default=100, help="face-free frames (default 100)")
    parser.add_argument("--detectors", default="haar,mtcnn", help="conf/detector names to compare")
    parser.add_argument("--yunet-model", help="YuNet's ONNX file: adds a yunet row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sides = [int(s) for s in args.sides.split(",")]
    faces = real_faces(args.data, args.per_class)
    with_faces = face_frames(faces, sides, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    empty = [background(rng) for _ in range(args.empty)]
    names = args.detectors.split(",") + (["yunet"] if args.yunet_model else [])
    counts = {d: sum(1 for f in faces if f[0] == d) for d in ("FER-2013", "CK+")}

    print(f"### Face detectors on 640x480 frames ({cpu_description()}, shared with other jobs)")
    print(
        f"{len(faces)} real faces ({', '.join(f'{n} {d}' for d, n in counts.items() if n)}) x sides {sides} px "
        f"on face-free backgrounds; {len(empty)} face-free frames; seed {args.seed}\n"
    )
    print(
        "| detector | " + " | ".join(f"recall {s}px" for s in sides) + " | recall FER | recall CK+ | "
        "false boxes per face frame | false boxes per face-free frame | ms/frame |"
    )
    print("|---|" + "---:|" * (len(sides) + 5))
    for name in names:
        detector = make_detector(name, yunet_model=args.yunet_model)
        found_boxes, ms_faces = run(detector, [f[2] for f in with_faces])
        empty_boxes, ms_empty = run(detector, empty)
        hits = [
            any(b.iou(box) >= 0.3 for b in boxes) for (_, _, _, box), boxes in zip(with_faces, found_boxes, strict=True)
        ]
        extra = [
            sum(b.iou(box) < 0.3 for b in boxes) for (_, _, _, box), boxes in zip(with_faces, found_boxes, strict=True)
        ]

        def recall(keep, hits=hits) -> str:
            picked = [h for h, f in zip(hits, with_faces, strict=True) if keep(f)]
            return f"{np.mean(picked):.2f}" if picked else "-"

        ms = (ms_faces * len(with_faces) + ms_empty * len(empty)) / (len(with_faces) + len(empty))
        print(
            f"| {name} | "
            + " | ".join(recall(lambda f, s=s: f[0] == s) for s in sides)
            + f" | {recall(lambda f: f[1] == 'FER-2013')} | {recall(lambda f: f[1] == 'CK+')} | "
            f"{np.mean(extra):.2f} | {np.mean([len(b) for b in empty_boxes]):.2f} | {ms:.1f} |"
        )


if __name__ == "__main__":
    main()
