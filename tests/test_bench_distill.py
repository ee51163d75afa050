"""benchmarks/bench_distill.py prints the teacher's cost once per image against per batch, in one table."""

from __future__ import annotations

from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_distill.py"


def test_quick_run_prints_the_three_ways_with_epochs_in_the_budget(tmp_path, run_script):
    result = run_script(SCRIPT, "--quick", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| teacher")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| none (labels only)",
        "| once per image, ten-crop TTA (fer_lab)",
        "| per batch, on the augmented view",
    ]
    assert rows[0].endswith("| 1.00x |") and rows[1].endswith("| 1.00x |")
    assert float(rows[2].split("|")[-2].strip().rstrip("x")) < 1.0
    assert "2 x the bundled model" in out
