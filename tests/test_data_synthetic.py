"""Synthetic expression faces: deterministic, clearly labelled, learnable but not trivial."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_lab.data import load_dataset, load_images


def test_synthetic_is_deterministic_per_seed_and_labelled(data_cfg):
    cfg = data_cfg("synthetic", samples_per_class=12)
    a, b, c = load_images(cfg, seed=1), load_images(cfg, seed=1), load_images(cfg, seed=2)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.usage.tolist() == b.usage.tolist()
    assert not np.array_equal(a.x, c.x)
    assert a.x.shape == (84, 48, 48, 1) and a.x.dtype == np.uint8
    assert "synthetic" in a.source.lower() and "not real data" in a.source


def test_synthetic_splits_are_stratified(data_cfg):
    data = load_dataset(data_cfg("synthetic", samples_per_class=20, val_fraction=0.25, test_fraction=0.2), seed=0)
    assert data.counts()["test"] == {name: 4 for name in data.class_names}
    assert data.counts()["val"] == {name: 4 for name in data.class_names}
    assert len(data.train) == 7 * 12


@pytest.mark.filterwarnings("ignore:lbfgs failed to converge")
def test_synthetic_is_learnable_by_a_linear_model(data_cfg):
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    raw = load_images(data_cfg("synthetic", samples_per_class=80, test_fraction=0.25), seed=0)
    x = np.stack([cv2.resize(img, (16, 16), interpolation=cv2.INTER_AREA) for img in raw.x[..., 0]])
    x = x.reshape(len(x), -1) / 255.0
    x -= x.mean(axis=1, keepdims=True)
    train = raw.usage == "Training"
    with threadpool_limits(1):  # BLAS threads only slow this tiny fit down on shared CPUs
        clf = LogisticRegression(max_iter=100).fit(x[train], raw.labels[train])
    accuracy = clf.score(x[~train], raw.labels[~train])
    assert accuracy > 0.35, accuracy  # chance is 1/7 ~ 0.14


def test_synthetic_test_split_has_its_own_name(data_cfg):
    data = load_dataset(data_cfg("synthetic", samples_per_class=10), seed=0)
    assert data.test.origin == "synthetic test"
    assert not any("PublicTest" in text for text in (data.train.origin, data.val.origin, *data.notes))
