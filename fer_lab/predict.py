"""`python -m fer_lab.predict FILES_OR_FOLDERS... [--format table|csv|json]`: emotions of the faces in images.

Folders are searched recursively for images. Every face found is reported with its box.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.inference.faces import DETECTORS, make_detector
from fer_lab.inference.recognizer import DEFAULT_ALIAS, DEFAULT_NAME, EmotionRecognizer, FacePrediction

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm")
CHUNK = 64
"""Images whose faces are classified in one batch."""
EXIT_PARTIAL = 1
EXIT_CODES = ("exit status: 0 every file was predicted; 1 some files failed (unreadable, unsupported or "
              "no face: each is named on stderr and in the output, the others are still predicted); "
              "2 nothing could be predicted (no model, no image files, or every file failed)")


@dataclass(frozen=True)
class FileResult:
    file: str
    faces: tuple[FacePrediction, ...] = ()
    error: str | None = None


def collect_files(paths: Sequence[str]) -> tuple[list[Path], list[FileResult]]:
    """Image files of `paths` (folders recursively, sorted) and errors for paths that do not exist."""
    files, missing = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(FileResult(name, error="file or folder not found"))
    return files, missing


def predict_files(recognizer: EmotionRecognizer, files: Sequence[Path]) -> list[FileResult]:
    """One result per file; the faces of CHUNK files at a time are classified in one batch."""
    results = []
    for start in range(0, len(files), CHUNK):
        found = []
        for path in files[start:start + CHUNK]:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                found.append((path, [], None, "cannot read image: corrupt file or unsupported format "
                                              f"(supported: {' '.join(IMAGE_SUFFIXES)})"))
                continue
            boxes, gray = recognizer.detect(image)
            error = None if boxes else ("no face found (if the images are already face crops, "
                                        "use --detector skip)")
            found.append((path, boxes, recognizer.crop(gray, boxes), error))
        crops = [c for _, boxes, c, _ in found if boxes]
        probs = recognizer.predict_proba(np.concatenate(crops)) if crops else []
        offset = 0
        for path, boxes, _, error in found:
            face_probs, offset = probs[offset:offset + len(boxes)], offset + len(boxes)
            faces = tuple(recognizer.face_prediction(b, p) for b, p in zip(boxes, face_probs))
            results.append(FileResult(str(path), faces, error))
    return results


def render(results: Sequence[FileResult], fmt: str, class_names: Sequence[str]) -> str:
    """The results as a text table or CSV (a row per face, and per failed file) or JSON (an object per file)."""
    if fmt == "json":
        return json.dumps([{"file": r.file, "error": r.error, "faces": [_face_dict(f) for f in r.faces]}
                           for r in results], indent=2)
    faces = [(r.file, i, f) for r in results for i, f in enumerate(r.faces)]
    failed = [r for r in results if r.error]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["file", "face", "x", "y", "w", "h", "label", "confidence", *class_names, "error"])
        writer.writerows([file, i, f.box.x, f.box.y, f.box.w, f.box.h, f.label, f"{f.confidence:.4f}",
                          *(f"{f.probabilities[c]:.4f}" for c in class_names), ""] for file, i, f in faces)
        writer.writerows([r.file, *[""] * (7 + len(class_names)), r.error] for r in failed)
        return out.getvalue().rstrip("\n")
    lines = [["file", "face", "box x,y,w,h", "label", "confidence"]]
    lines += [[file, str(i), f"{f.box.x},{f.box.y},{f.box.w},{f.box.h}", f.label, f"{f.confidence:.3f}"]
              for file, i, f in faces]
    lines += [[r.file, "-", "-", "error:", r.error] for r in failed]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1]
                     for line in lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.predict", epilog=EXIT_CODES,
                                     description="Emotions of the faces in images (folders: recursively).")
    parser.add_argument("paths", nargs="+", help="image files and/or folders")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--output", help="write the results to this file instead of stdout")
    parser.add_argument("--model", help=f"model URI (models:/name@alias, models:/name/3, runs:/<id>/model, "
                                        f"file.keras); default models:/{DEFAULT_NAME}@{DEFAULT_ALIAS}")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                                               "else sqlite:///<root>/mlflow.db)")
    parser.add_argument("--detector", choices=DETECTORS, default="auto",
                        help="auto: YuNet if --yunet-model exists, else Haar; skip: images are face crops")
    parser.add_argument("--yunet-model", help="path to YuNet's ONNX file (face_detection_yunet_2023mar.onnx)")
    parser.add_argument("--tta", action="store_true", help="also classify mirrored faces and average")
    return parser.parse_args(argv)


@report_user_errors
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    files, results = collect_files(args.paths)
    if not files:
        for r in results:
            print(f"fer_lab: {r.file}: {r.error}", file=sys.stderr)
        raise FerLabError(f"no image files in {' '.join(args.paths)} (looked for {' '.join(IMAGE_SUFFIXES)})")
    kwargs = {"detector": make_detector(args.detector, args.yunet_model), "tta": args.tta}
    recognizer = (EmotionRecognizer.from_uri(args.model, tracking_uri=args.tracking_uri, **kwargs) if args.model
                  else EmotionRecognizer.from_registry(tracking_uri=args.tracking_uri, **kwargs))
    results = predict_files(recognizer, files) + results
    text = render(results, args.format, recognizer.class_names)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"fer_lab: {r.file}: {r.error}", file=sys.stderr)
    if len(failed) == len(results):
        raise FerLabError(f"no file could be predicted ({len(failed)} failed, see above)")
    return EXIT_PARTIAL if failed else 0


def _face_dict(face: FacePrediction) -> dict:
    box = face.box
    return {"box": {"x": box.x, "y": box.y, "w": box.w, "h": box.h, "score": round(box.score, 4)},
            "label": face.label, "confidence": round(face.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in face.probabilities.items()}}


if __name__ == "__main__":
    sys.exit(main())
