"""Live-inference speed: per-stage milliseconds and end-to-end FPS on 640x480 frames with one face.

    .venv/bin/python benchmarks/bench_inference.py [--data data/fer2013] [--frames 100]
        [--models custom_cnn,cnn_tiny,vgg16,bundled] [--detectors haar,skip] [--tta none,flip,crops]

Models are the project's own configs built with untrained weights (speed does not depend on them;
vgg16 uses model.weights=null, so nothing is downloaded), or `bundled`, the reference model in the package.
The face is a real FER-2013 test image (--data: the folder with test/<class>/*.jpg, `make data`) upscaled
into a plain background so that the Haar cascade fires, else a drawing.
End to end = detect + preprocess + classify + overlay drawing for one frame (no video decoding). Each TTA mode
(live's and predict's `tta`) classifies all views of the frame's faces in one batch.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from fer_lab.inference.bundled import BUNDLED_URI
from fer_lab.inference.detectors import make_detector
from fer_lab.inference.loading import load_model
from fer_lab.inference.overlay import draw_faces
from fer_lab.inference.recognizer import EmotionRecognizer
from fer_lab.labels import EMOTIONS
from fer_lab.tracking.hardware import cpu_description
from fer_lab.tracking.model_io import ModelMetadata

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = {
    "custom_cnn": ["model=custom_cnn"],
    "cnn_tiny": ["model=cnn_tiny"],
    "vgg16": ["model=vgg16", "model.weights=null"],
}


def test_frame(data: Path) -> tuple[np.ndarray, str]:
    """A 640x480 BGR frame with one 200 px face, and where the face comes from."""
    haar = make_detector("haar")
    for path in sorted((data / "test").glob("*/*.jpg"))[:200]:
        gray = np.full((480, 640), 120, np.uint8)
        gray[140:340, 220:420] = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (200, 200))
        if haar(None, gray):
            return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), f"FER-2013 {path.parent.name}/{path.name}"
    frame = np.full((480, 640, 3), 120, np.uint8)
    cv2.ellipse(frame, (320, 240), (85, 105), 0, 0, 360, (170, 190, 220), -1)
    for dx in (-35, 35):
        cv2.circle(frame, (320 + dx, 215), 10, (40, 40, 40), -1)
    cv2.ellipse(frame, (320, 285), (35, 12), 0, 0, 180, (60, 60, 140), 3)
    return frame, f"a drawing (no {data}/test/<class>/*.jpg; Haar may find no face)"


def build(name: str):
    from hydra import compose, initialize_config_dir

    import fer_lab.extensions  # noqa: F401  (config schemas, ${fer_lab_root:})
    from fer_lab.models import build_model
    from fer_lab.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=OVERRIDES[name])
    return build_model(cfg.model, cfg.augmentation, (48, 48, 1), len(EMOTIONS))


def measure(rec: EmotionRecognizer, frame: np.ndarray, frames: int, warmup: int = 5) -> dict[str, float]:
    stages = {"detect": [], "preprocess": [], "classify": [], "total": []}
    faces = []
    for i in range(warmup + frames):
        image = frame.copy()
        t0 = time.perf_counter()
        boxes, gray = rec.detect(image)
        t1 = time.perf_counter()
        crops = rec.crop(gray, boxes)
        t2 = time.perf_counter()
        probs = rec.predict_proba(crops)
        t3 = time.perf_counter()
        draw_faces(image, [rec.face_prediction(b, p) for b, p in zip(boxes, probs, strict=True)], rec.class_names, 30.0)
        t4 = time.perf_counter()
        if i >= warmup:
            for key, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t0), strict=True):
                stages[key].append(seconds * 1000)
            faces.append(len(boxes))
    result = {key: float(np.mean(values)) for key, values in stages.items()}
    return {**result, "faces": float(np.mean(faces)), "fps": 1000.0 / result["total"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT / "data" / "fer2013",
        help="FER-2013 image folders (test/<class>/*.jpg) for the face",
    )
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--models", default="custom_cnn,cnn_tiny,vgg16")
    parser.add_argument("--detectors", default="haar,skip")
    parser.add_argument("--tta", default="none,flip,crops", help="test-time augmentation modes to time")
    args = parser.parse_args()
    frame, origin = test_frame(args.data)
    print(
        f"640x480 frame, one face: {origin}; {args.frames} frames after 5 warm-up frames; "
        f"{cpu_description()}, shared with other jobs"
    )
    print(
        "| model | params | detector | TTA | faces/frame | detect ms | preprocess ms | classify ms "
        "| end-to-end ms | FPS |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        if name == BUNDLED_URI:
            model, metadata = load_model(BUNDLED_URI)
        else:
            model, metadata = build(name), ModelMetadata(EMOTIONS, 48, 0.0, name)
        for detector in args.detectors.split(","):
            for tta in args.tta.split(","):
                rec = EmotionRecognizer(model, metadata, detector=make_detector(detector), tta=tta)
                r = measure(rec, frame, args.frames)
                print(
                    f"| {name} | {model.count_params() / 1e6:.2f}M | {detector} | {tta} | {r['faces']:.0f} "
                    f"| {r['detect']:.1f} | {r['preprocess']:.2f} | {r['classify']:.1f} | {r['total']:.1f} "
                    f"| {r['fps']:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
