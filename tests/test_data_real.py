"""The real FER-2013 files in ../shared/data load with the row counts their README states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_lab.data import load_dataset, load_images

REAL = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN_COUNTS = {
    "angry": 3995,
    "disgust": 436,
    "fear": 4097,
    "happy": 7215,
    "sad": 4830,
    "surprise": 3171,
    "neutral": 4965,
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (REAL / "fer2013.csv.gz").exists(), reason="../shared/data is absent"),
]


def test_real_csv_and_ferplus(state_root, data_cfg):
    cfg = data_cfg(path=str(REAL / "fer2013.csv.gz"), cache=True)
    raw = load_images(cfg)
    assert raw.x.shape == (32137, 48, 48, 1)
    assert {u: int((raw.usage == u).sum()) for u in ("Training", "PublicTest")} == {
        "Training": 28558,
        "PublicTest": 3579,
    }
    data = load_dataset(cfg, seed=42)
    assert len(data.train) + len(data.val) == 28558 and len(data.test) == 3579
    plus = load_images(
        data_cfg("ferplus", path=str(REAL / "fer2013.csv.gz"), votes_path=str(REAL / "fer2013new.csv"), cache=True)
    )
    agree = float(np.mean(plus.labels == raw.labels[[int(n.split()[-1]) - 1 for n in plus.names]]))
    assert 0.6 < agree < 0.75  # README: about 68%


def test_real_folder(state_root, data_cfg):
    raw = load_images(data_cfg(path=str(REAL / "fer2013"), cache=False))
    assert raw.x.shape == (28709 + 3589, 48, 48, 1) and raw.notes == ()
    train = raw.labels[raw.usage == "Training"]
    assert dict(zip(raw.class_names, np.bincount(train, minlength=7).tolist(), strict=True)) == TRAIN_COUNTS
    assert int((raw.usage == "PublicTest").sum()) == 3589
