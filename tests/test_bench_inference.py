"""benchmarks/bench_inference.py times every stage of live inference per model, detector and TTA mode."""

from __future__ import annotations

from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_inference.py"


def test_run_prints_one_row_per_model_detector_and_tta_mode(run_script):
    result = run_script(SCRIPT, "--frames", "2", "--models", "cnn_tiny", "--detectors", "skip", "--tta", "none,crops")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| cnn_tiny |")]
    assert [(r[2].strip(), r[3].strip(), r[4].strip()) for r in rows] == [("skip", "none", "1"), ("skip", "crops", "1")]
    assert all(float(r[-1]) > 0 for r in rows)
