"""benchmarks/bench_detectors.py compares detectors on faces pasted into face-free frames and prints one table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_detectors.py"


def test_run_prints_recall_false_detections_and_speed_per_detector(tmp_path, run_script):
    rng = np.random.default_rng(0)
    for name, folder in (("a.jpg", tmp_path / "fer2013" / "test" / "happy"), ("b.png", tmp_path / "ckplus48" / "fear")):
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    result = run_script(
        SCRIPT,
        "--data",
        str(tmp_path),
        "--per-class",
        "1",
        "--sides",
        "64,160",
        "--empty",
        "2",
        "--detectors",
        "haar,skip",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "2 real faces (1 FER-2013, 1 CK+) x sides [64, 160] px" in result.stdout
    header = next(line for line in lines if line.startswith("| detector |"))
    assert "recall 64px | recall 160px | recall FER | recall CK+" in header and "ms/frame" in header
    skip = next(line for line in lines if line.startswith("| skip |")).split("|")[2:-1]
    # skip returns the whole frame as one box: it never overlaps a pasted face and is one false box per frame
    assert [cell.strip() for cell in skip[:6]] == ["0.00", "0.00", "0.00", "0.00", "1.00", "1.00"]
    assert any(line.startswith("| haar |") for line in lines)


def test_missing_faces_say_how_to_get_them(tmp_path, run_script):
    result = run_script(SCRIPT, "--data", str(tmp_path))
    assert result.returncode != 0 and "make data" in result.stderr and "Traceback" not in result.stderr
