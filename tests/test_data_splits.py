"""Splitting and config validation: stratified, disjoint, test never used for selection."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lab.data import Split, load_dataset, load_images
from fer_lab.data.splits import image_ids
from fer_lab.errors import FerLabError

SIZE = 16


def rows(n_per_class: dict[str, int], seed: int = 0) -> list[tuple]:
    """Distinct random images: n per class for each usage."""
    rng = np.random.default_rng(seed)
    return [
        (c, rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8), usage)
        for usage, n in n_per_class.items()
        for c in range(7)
        for _ in range(n)
    ]


def content(split) -> set[bytes]:
    return {img.tobytes() for img in split.x}


def test_stratified_disjoint_and_test_untouched(data_csv, data_cfg):
    path = data_csv(rows({"Training": 20, "PublicTest": 3, "PrivateTest": 2}))
    data = load_dataset(data_cfg(path=str(path), image_size=SIZE, val_fraction=0.25), seed=3)
    assert data.counts()["val"] == {name: 5 for name in data.class_names}
    assert data.counts()["train"] == {name: 15 for name in data.class_names}
    assert len(data.test) == 21 and data.test.origin == "PublicTest"
    assert not content(data.train) & content(data.val)
    assert not (content(data.train) | content(data.val)) & content(data.test)
    assert any("PrivateTest (14 images) unused" in n for n in data.notes)
    again = load_dataset(data_cfg(path=str(path), image_size=SIZE, val_fraction=0.25), seed=3)
    np.testing.assert_array_equal(data.val.x, again.val.x)
    other = load_dataset(data_cfg(path=str(path), image_size=SIZE, val_fraction=0.25), seed=4)
    assert not np.array_equal(data.val.x, other.val.x)


def test_public_test_validation_with_private_test(data_csv, data_cfg):
    path = data_csv(rows({"Training": 4, "PublicTest": 2, "PrivateTest": 1}))
    data = load_dataset(
        data_cfg(path=str(path), image_size=SIZE, val_from="public_test", test_split="PrivateTest"), seed=0
    )
    assert (len(data.train), len(data.val), len(data.test)) == (28, 14, 7)
    assert (data.val.origin, data.test.origin) == ("PublicTest", "PrivateTest")


def test_test_split_none_and_missing_private_test(data_csv, data_cfg):
    path = data_csv(rows({"Training": 4, "PublicTest": 1}))
    data = load_dataset(data_cfg(path=str(path), image_size=SIZE, test_split="none", val_fraction=0.25), seed=0)
    assert data.test is None and set(data.counts()) == {"train", "val"}
    with pytest.raises(FerLabError, match="no PrivateTest rows"):
        load_dataset(data_cfg(path=str(path), image_size=SIZE, test_split="PrivateTest"), seed=0)


def test_drop_cross_split_duplicates(data_csv, data_cfg):
    data_rows = rows({"Training": 6, "PublicTest": 1})
    for i in range(3):  # three Training rows copy PublicTest images; rows 10-12 are one image (train/val leak)
        data_rows[i] = (data_rows[i][0], data_rows[-1 - i][1], "Training")
    data_rows[10] = data_rows[11] = (1, data_rows[9][1], "Training")
    path = data_csv(data_rows)
    kept = load_dataset(data_cfg(path=str(path), image_size=SIZE, val_fraction=0.5), seed=0)
    dropped = load_dataset(
        data_cfg(path=str(path), image_size=SIZE, val_fraction=0.5, drop_cross_split_duplicates=True), seed=0
    )
    assert len(kept.train) + len(kept.val) - len(dropped.train) - len(dropped.val) >= 3
    assert any("dropped" in n and "exact pixels" in n for n in dropped.notes)
    assert not content(dropped.train) & (content(dropped.val) | content(dropped.test))
    assert not content(dropped.val) & content(dropped.test)
    assert len(dropped.test) == len(kept.test) == 7


def test_image_ids_are_exact_and_shared_across_arrays():
    x = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 1), dtype=np.uint8)
    y = np.concatenate([x[:2], x[:1] ^ 1])
    a, b = image_ids(x, y)
    assert len(set(a)) == 5 and b[0] == a[0] and b[1] == a[1] and b[2] not in a


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"source": "parquet"}, "data.source"),
        ({"val_fraction": 1.5}, "data.val_fraction"),
        ({"val_fraction": 0}, "data.val_fraction"),
        ({"test_split": "Validation"}, "data.test_split"),
        ({"val_from": "test"}, "data.val_from"),
        ({"on_bad_image": "ignore"}, "data.on_bad_image"),
        ({"image_size": 4}, "data.image_size"),
        ({"cache": "maybe"}, "data.cache"),
        ({"image_size": "big"}, "data.image_size"),
        ({"colour": True}, "data.colour"),
        ({"val_from": "public_test"}, "would select models on the test split"),
    ],
)
def test_config_validation(data_cfg, tmp_path, overrides, key):
    with pytest.raises(FerLabError, match=key):
        load_images(data_cfg(path=str(tmp_path), **overrides))


def test_synthetic_config_validation(data_cfg):
    with pytest.raises(FerLabError, match=r"data\.test_fraction"):
        load_images(data_cfg("synthetic", test_fraction=1.0))
    with pytest.raises(FerLabError, match=r"data\.val_fraction"):
        load_images(data_cfg("synthetic", val_fraction=0.5, test_fraction=0.5))


def test_unknown_format_and_source_mismatch(data_cfg, tmp_path):
    (tmp_path / "faces.parquet").write_text("x")
    with pytest.raises(FerLabError, match=r"data\.source=csv or data\.source=folder"):
        load_images(data_cfg(path=str(tmp_path / "faces.parquet")))
    with pytest.raises(FerLabError, match="is a folder"):
        load_images(data_cfg(path=str(tmp_path), source="csv"))


def test_split_fingerprint_changes_with_any_image_or_label():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (5, SIZE, SIZE, 1), dtype=np.uint8), np.eye(7, dtype=np.float32)[[0, 1, 2, 3, 4]]
    fingerprint = Split("val", x, y, "a").fingerprint()
    assert Split("val", x.copy(), y.copy(), "another origin").fingerprint() == fingerprint
    relabelled, edited = y.copy(), x.copy()
    relabelled[0] = np.eye(7)[6]
    edited[2, 0, 0, 0] ^= 1
    assert Split("val", x, relabelled, "a").fingerprint() != fingerprint
    assert Split("val", edited, y, "a").fingerprint() != fingerprint
    assert Split("val", x[:4], y[:4], "a").fingerprint() != fingerprint
