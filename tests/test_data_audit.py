"""Dataset audit: planted duplicates and blank images are found; the CLI reports user errors in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from fer_lab.data import load_images
from fer_lab.data.audit import audit_images, format_report

SIZE = 16


def planted(data_csv):
    """21 Training + 7 PublicTest images with planted duplicates and one blank image."""
    rng = np.random.default_rng(0)
    rows = [(i % 7, rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8), "Training") for i in range(21)]
    rows += [(i, rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8), "PublicTest") for i in range(7)]
    rows[1] = (rows[0][0], rows[0][1], "Training")  # within Training, same label
    rows[3] = (5, rows[2][1], "Training")  # within Training, conflicting labels
    rows[22] = (rows[10][0], rows[10][1], "PublicTest")  # across, same label
    rows[23] = (6, rows[11][1], "PublicTest")  # across, conflicting (row 12 has label 4)
    rows[15] = (rows[15][0], np.full((SIZE, SIZE), 9, np.uint8), "Training")  # blank
    return data_csv(rows)


def test_audit_finds_planted_duplicates_and_blank(data_csv, data_cfg):
    cfg = data_cfg(path=str(planted(data_csv)), image_size=SIZE, val_fraction=0.3)
    OmegaConf.set_struct(cfg, True)  # as Hydra passes it
    report = audit_images(load_images(cfg), cfg, seed=0, show=5)
    assert report["class_counts"]["PublicTest"] == {
        "angry": 1,
        "disgust": 0,
        "fear": 0,
        "happy": 2,
        "sad": 1,
        "surprise": 1,
        "neutral": 2,
    }
    within = report["duplicates_within"]["Training"]
    assert (within["groups"], within["images"], within["redundant"], within["conflicting_groups"]) == (2, 4, 2, 1)
    assert report["duplicates_within"]["PublicTest"]["groups"] == 0
    (across,) = report["duplicates_across"]
    assert across["splits"] == ["Training", "PublicTest"]
    assert (across["shared_images"], across["second_with_copy_in_first"], across["conflicting_groups"]) == (2, 2, 1)
    assert "data row 12 (Training, sad) = data row 24 (PublicTest, neutral)" in across["examples"][0]
    assert report["near_blank"]["count"] == 1 and "data row 16" in report["near_blank"]["examples"][0]
    assert report["drop_cross_split_duplicates"]["would_remove"]["train"] >= 2
    text = format_report(json.loads(json.dumps(report)))
    assert "Exact duplicates across splits" in text and "Near-blank images" in text


@pytest.fixture
def run_cli(run_module, monkeypatch):
    """run_cli(*args, root=...) -> what `python -m fer_lab.audit args` exits with and prints, FER_LAB_ROOT=root."""

    def run(*args, root):
        monkeypatch.setenv("FER_LAB_ROOT", str(root))
        return run_module("fer_lab.audit", *args)

    return run


def test_audit_cli_exits_2_with_one_line_on_missing_path(tmp_path, run_cli):
    result = run_cli(f"data.path={tmp_path / 'missing.csv.gz'}", root=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fer_lab: error: data.path=") and "does not exist" in lines[0]


def test_audit_cli_prints_report_and_writes_json(tmp_path, data_csv, run_cli):
    out = tmp_path / "report" / "audit.json"
    result = run_cli(
        f"data.path={planted(data_csv)}",
        "data.image_size=16",
        "data.cache=false",
        f"audit.json_out={out}",
        root=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Class counts" in result.stdout and "Near-blank images" in result.stdout
    assert json.loads(out.read_text())["near_blank"]["count"] == 1
    assert (tmp_path / "logs" / "hydra" / "audit").is_dir()
