"""benchmarks/bench_face_crops.py scores the bundled model on face crops, whole photos and detector crops."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_face_crops.py"


def test_run_prints_one_row_per_reading_of_the_same_faces(tmp_path, run_script):
    rng = np.random.default_rng(0)
    for emotion in ("happy", "sad"):
        folder = tmp_path / "fer2013" / "test" / emotion
        folder.mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(folder / f"PublicTest_{i}.jpg"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    result = run_script(SCRIPT, "--data", str(tmp_path), "--per-class", "2", "--detectors", "haar,skip")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ")][1:]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [
        ("face crops as they are", "null"),
        ("photos", "null"),
        ("photos", "haar"),
        ("photos", "skip"),
    ]
    assert rows[0][2].strip() == "0/4" and rows[3][2].strip() == "4/4"  # skip: the whole frame is the face
    assert all(0.0 <= float(r[3]) <= 1.0 for r in rows)


def test_missing_faces_say_how_to_get_them(tmp_path, run_script):
    result = run_script(SCRIPT, "--data", str(tmp_path))
    assert result.returncode != 0 and "make data" in result.stderr and "Traceback" not in result.stderr
