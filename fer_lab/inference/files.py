"""Emotions of the faces in image files: find the files, classify their faces in batches, render the results."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_lab.data.folders import IMAGE_SUFFIXES
from fer_lab.inference.faces import Box
from fer_lab.inference.recognizer import EmotionRecognizer, FacePrediction

CHUNK = 64
"""Images whose faces are classified in one batch."""
FORMATS = ("table", "csv", "json")


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


def predict_files(
    recognizer: EmotionRecognizer, files: Sequence[Path], uncertain_below: float = 0.0
) -> list[FileResult]:
    """One result per file; the faces of CHUNK files at a time are classified in one batch. A face whose top
    probability is below `uncertain_below` is labelled uncertain."""
    results = []
    for start in range(0, len(files), CHUNK):
        found: list[tuple[Path, list[Box], np.ndarray | None, str | None]] = []
        for path in files[start : start + CHUNK]:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                found.append(
                    (
                        path,
                        [],
                        None,
                        "cannot read image: corrupt file or unsupported format "
                        f"(supported: {' '.join(IMAGE_SUFFIXES)})",
                    )
                )
                continue
            boxes, gray = recognizer.detect(image)
            error = None if boxes else ("no face found (if the images are already face crops, use --detector skip)")
            found.append((path, boxes, recognizer.crop(gray, boxes), error))
        crops = [c for _, boxes, c, _ in found if boxes and c is not None]
        probs = recognizer.predict_proba(np.concatenate(crops)) if crops else np.zeros((0, len(recognizer.class_names)))
        offset = 0
        for path, boxes, _, error in found:
            face_probs, offset = probs[offset : offset + len(boxes)], offset + len(boxes)
            faces = tuple(
                recognizer.face_prediction(b, p, uncertain_below) for b, p in zip(boxes, face_probs, strict=True)
            )
            results.append(FileResult(str(path), faces, error))
    return results


def render(results: Sequence[FileResult], fmt: str, class_names: Sequence[str]) -> str:
    """The results as a text table or CSV (a row per face, and per failed file) or JSON (an object per file)."""
    if fmt == "json":
        return json.dumps(
            [{"file": r.file, "error": r.error, "faces": [face_dict(f) for f in r.faces]} for r in results], indent=2
        )
    faces = [(r.file, i, f) for r in results for i, f in enumerate(r.faces)]
    failed = [r for r in results if r.error]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["file", "face", "x", "y", "w", "h", "label", "confidence", *class_names, "error"])
        writer.writerows(
            [
                file,
                i,
                f.box.x,
                f.box.y,
                f.box.w,
                f.box.h,
                f.label,
                f"{f.confidence:.4f}",
                *(f"{f.probabilities[c]:.4f}" for c in class_names),
                "",
            ]
            for file, i, f in faces
        )
        writer.writerows([r.file, *[""] * (7 + len(class_names)), r.error] for r in failed)
        return out.getvalue().rstrip("\n")
    lines = [["file", "face", "box x,y,w,h", "label", "confidence"]]
    lines += [
        [file, str(i), f"{f.box.x},{f.box.y},{f.box.w},{f.box.h}", f.label, f"{f.confidence:.3f}"]
        for file, i, f in faces
    ]
    lines += [[r.file, "-", "-", "error:", r.error or ""] for r in failed]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1] for line in lines
    )


def face_dict(face: FacePrediction) -> dict:
    """A face's box, label, confidence and probabilities as JSON-ready values."""
    box = face.box
    return {
        "box": {"x": box.x, "y": box.y, "w": box.w, "h": box.h, "score": round(box.score, 4)},
        "label": face.label,
        "confidence": round(face.confidence, 4),
        "probabilities": {k: round(v, 4) for k, v in face.probabilities.items()},
    }
