"""benchmarks/bench_app_load.py: webcam clients alone and beside video uploads, one row per phase."""

from __future__ import annotations

from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_app_load.py"


def test_two_phases_print_frames_latencies_and_upload_outcomes(tiny_model_folder, run_script):
    model = str(tiny_model_folder / "model.keras")
    result = run_script(SCRIPT, "--clients", "2", "--uploads", "3", "--seconds", "3", "--model", model, "--tta", "none")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.strip("| ").split(" | ") for line in result.stdout.splitlines() if line.startswith("| 2 |")]
    assert [row[1] for row in rows] == ["0", "3"]
    alone, loaded = rows
    assert float(alone[2]) > 0 and float(loaded[2]) > 0  # frames/s per client in both phases
    assert int(loaded[7]) + int(loaded[8]) >= 1 and loaded[9] == "0"  # uploads done or refused, none failed
