"""benchmarks/bench_tracking.py with one writer of a few steps, against the session's tracking server."""

from __future__ import annotations

from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_tracking.py"


def test_one_writer_prints_both_stores_side_by_side(tracking_server, run_script):
    result = run_script(SCRIPT, "--writers", "1", "--steps", "3", "--metrics", "2", "--server", tracking_server.uri)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "### MLflow tracking: concurrent writers, 3 steps x 2 metrics each;" in out
    assert (
        "| writers | SQLite metrics/s | SQLite failed writers | PostgreSQL server metrics/s "
        "| PostgreSQL server failed writers |"
    ) in out
    row = next(line for line in out.splitlines() if line.startswith("| 1 |")).strip("| ").split(" | ")
    assert float(row[1]) > 0 and row[2] == "0" and float(row[3]) > 0 and row[4] == "0", row
