"""benchmarks/bench_app.py drives the app in Chromium and prints FPS and server ms per detector and TTA mode."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fer_lab.app.harness import chromium_problem

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_app.py"


@pytest.mark.skipif(chromium_problem() is not None, reason=f"no browser: {chromium_problem()}")
def test_one_row_gives_frames_per_second_and_server_ms(tiny_bundled):
    spec = importlib.util.spec_from_file_location("bench_app", SCRIPT)
    bench_app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_app)

    rows = bench_app.bench(str(tiny_bundled / "model.keras"), ["haar"], ["none"], seconds=2)
    assert len(rows) == 1
    detector, tta, fps, ms = rows[0]
    assert (detector, tta) == ("haar", "none") and fps > 0.5 and ms > 0
    table = bench_app.render(rows).splitlines()
    assert table[0] == "| detector | tta | FPS through the page | server ms / frame |"
    assert table[2] == f"| haar | none | {fps:.1f} | {ms:.1f} |"
