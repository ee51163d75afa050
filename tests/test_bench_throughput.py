"""benchmarks/bench_throughput.py --quick runs on random arrays and a tiny JPEG folder and prints its tables."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_lab.labels import EMOTIONS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_throughput.py"


def test_quick_run_prints_the_tables_and_ratios(tmp_path, run_script):
    rng = np.random.default_rng(0)
    for i in range(3 * 64):  # the quick run's warm-up and timed batches of 64
        folder = tmp_path / "fer2013" / "train" / EMOTIONS[i % len(EMOTIONS)]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"Training_{i}.jpg"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    result = run_script(
        SCRIPT,
        "--quick",
        "--data",
        str(tmp_path),
        "--models",
        "vgg16",
        "--cnns",
        "input_only,cnn_tiny",
        "--precision",
        "mixed_bfloat16",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "note: random arrays" in out
    for line in (
        "### Augmented training input: input_only,",
        "### Augmented training input: cnn_tiny,",
        "| pipeline | img/s |",
        "| ImageDataGenerator.flow_from_directory |",
        "| fer_lab |",
        "| fer_lab, default preset, input_crop 42 (conv stack on 42-px crops) |",
        "| fer_lab, default preset, input_crop 42, mixed_bfloat16 |",
        "| speed-up of | over ImageDataGenerator.flow_from_directory | over ImageDataGenerator.flow |",
        "| model | features | full frozen model img/s |",
        "| vgg16 | 512 |",
    ):
        assert line in out, line
