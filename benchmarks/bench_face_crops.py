"""Photos as training data: the bundled model on faces pasted into 640x480 scenes, read whole and with data.crop_faces.

    .venv/bin/python benchmarks/bench_face_crops.py [--data data] [--per-class 40] [--detectors haar,mtcnn]

FER-2013 PublicTest crops (the first --per-class of every class in <data>/fer2013/test) are written as class
folders twice: as they are, and each pasted at a random place and side (--sides, px) onto a face-free 640x480
background (the scenes of bench_detectors.py). Both are read by data=class_folders: the photos whole (resized),
and cropped to their largest face by each detector with the bundled model's face margin. Every row scores the
bundled model (one pass, no TTA) on all the images, PublicTest being a split it never chose anything on.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_detectors import H, W, background

from fer_lab.data import load_images
from fer_lab.inference.loading import load_model
from fer_lab.labels import EMOTIONS
from fer_lab.tracking.hardware import cpu_description

ROOT = Path(__file__).resolve().parents[1]


def write_folders(data: Path, out: Path, per_class: int, sides: tuple[int, int], seed: int) -> int:
    """out/crops/<class>/ and out/photos/<class>/ from the same faces; the number of faces."""
    rng, count = np.random.default_rng(seed), 0
    for emotion in EMOTIONS:
        for path in sorted((data / "fer2013" / "test" / emotion).glob("*.jpg"))[:per_class]:
            face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            side = int(rng.integers(sides[0], sides[1] + 1))
            scene = background(rng)
            x, y = int(rng.integers(0, W - side)), int(rng.integers(0, H - side))
            scene[y : y + side, x : x + side] = cv2.cvtColor(cv2.resize(face, (side, side)), cv2.COLOR_GRAY2BGR)
            for kind, image in (("crops", face), ("photos", scene)):
                (out / kind / emotion).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out / kind / emotion / path.name), image)
            count += 1
    if not count:
        raise SystemExit(f"no faces under {data}/fer2013/test/<emotion>/: run `make data` or pass --data")
    return count


def score(
    model, model_classes: tuple[str, ...], size: int, margin: float, folder: Path, detector: str | None
) -> tuple[float, int, float]:
    """Accuracy, images cropped to a face, and ms per image read (the detector's loading included)."""
    cfg = OmegaConf.create(
        {
            "source": "class_folders",
            "path": str(folder),
            "image_size": size,
            "folds": 2,
            "face_margin": margin,
            "crop_faces": detector,
            "cache": False,
        }
    )
    start = time.perf_counter()
    raw = load_images(cfg, seed=0)
    ms = 1000 * (time.perf_counter() - start) / len(raw.x)
    predicted = np.argmax(model.predict(raw.x.astype("float32"), batch_size=256, verbose=0), axis=1)
    truth = np.array([model_classes.index(raw.class_names[i]) for i in raw.labels])
    cropped = next((int(m.group(1)) for n in raw.notes if (m := re.match(r"cropped (\d+) ", n))), 0)
    return float(np.mean(predicted == truth)), cropped, ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="folder with fer2013/test")
    parser.add_argument("--per-class", type=int, default=40, help="faces per class (default 40)")
    parser.add_argument("--sides", default="96,240", help="smallest and largest pasted face side in px")
    parser.add_argument("--detectors", default="haar,mtcnn", help="data.crop_faces values to compare")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.per_class < 2:
        parser.error("--per-class must be at least 2 (the folder reader splits every class in two folds)")
    sides = tuple(int(s) for s in args.sides.split(","))
    model, meta = load_model("bundled")
    with tempfile.TemporaryDirectory() as tmp:
        n = write_folders(args.data, Path(tmp), args.per_class, sides, args.seed)
        print(f"### Photos as class folders: the bundled model ({cpu_description()}, shared with other jobs)")
        print(
            f"{n} FER-2013 PublicTest faces, pasted at sides {sides[0]}-{sides[1]} px into {W}x{H} scenes; "
            f"face margin {meta.face_margin}; seed {args.seed}; one pass, no TTA\n"
        )
        print("| images | data.crop_faces | cropped to a face | accuracy | ms/image read |")
        print("|---|---|---:|---:|---:|")
        rows = [("face crops as they are", "crops", None), ("photos", "photos", None)]
        rows += [("photos", "photos", d) for d in args.detectors.split(",")]
        for label, kind, detector in rows:
            accuracy, cropped, ms = score(
                model, meta.class_names, meta.image_size, meta.face_margin, Path(tmp) / kind, detector
            )
            print(f"| {label} | {detector or 'null'} | {cropped}/{n} | {accuracy:.3f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
