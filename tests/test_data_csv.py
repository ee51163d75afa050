"""FER-2013 challenge CSV loader: happy paths and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lab.data import load_dataset, load_images
from fer_lab.errors import FerLabError

SIZE = 16


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE), dtype=np.uint8)


def good_rows(per_class: int = 3, test_per_class: int = 1) -> list[tuple]:
    labels = [c for c in range(7) for _ in range(per_class)] + [c for c in range(7) for _ in range(test_per_class)]
    usage = ["Training"] * (7 * per_class) + ["PublicTest"] * (7 * test_per_class)
    return list(zip(labels, images(len(labels)), usage, strict=True))


def error_of(cfg) -> str:
    with pytest.raises(FerLabError) as err:
        load_images(cfg)
    return str(err.value)


@pytest.mark.parametrize("name", ["fer.csv", "fer.csv.gz"])
def test_csv_loads_exact_pixels_labels_and_usage(data_csv, data_cfg, name):
    rows = good_rows()
    raw = load_images(data_cfg(path=str(data_csv(rows, name)), image_size=SIZE))
    assert raw.x.dtype == np.uint8 and raw.x.shape == (len(rows), SIZE, SIZE, 1)
    np.testing.assert_array_equal(raw.x[..., 0], np.stack([r[1] for r in rows]))
    assert raw.y.dtype == np.float32 and raw.y.shape == (len(rows), 7)
    np.testing.assert_array_equal(raw.labels, [r[0] for r in rows])
    assert list(raw.usage) == [r[2] for r in rows]
    assert str(data_csv(rows, name)) in raw.source


def test_csv_dataset_splits_and_counts(data_csv, data_cfg):
    data = load_dataset(
        data_cfg(path=str(data_csv(good_rows(per_class=10))), image_size=SIZE, val_fraction=0.2), seed=0
    )
    assert (len(data.train), len(data.val), len(data.test)) == (56, 14, 7)
    assert data.test.origin == "PublicTest" and "20%" in data.train.origin
    assert data.counts()["val"] == {name: 2 for name in data.class_names}


def test_csv_other_size_is_resized_with_note(data_csv, data_cfg):
    raw = load_images(data_cfg(path=str(data_csv(good_rows())), image_size=24))
    assert raw.x.shape[1:] == (24, 24, 1)
    assert any("resized all 28 images from 16x16 to 24x24" in n for n in raw.notes)


def test_csv_without_usage_column_is_all_training(data_csv, data_cfg):
    rows = [(label, x) for label, x, _ in good_rows()]
    raw = load_images(data_cfg(path=str(data_csv(rows, header="emotion,pixels")), image_size=SIZE))
    assert set(raw.usage) == {"Training"} and any("no Usage column" in n for n in raw.notes)


def test_missing_path_names_it_and_the_fix(data_cfg, tmp_path):
    msg = error_of(data_cfg(path=str(tmp_path / "nope.csv")))
    assert "nope.csv" in msg and "does not exist" in msg and "data.path=" in msg


def test_empty_file(data_cfg, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    assert "is empty" in error_of(data_cfg(path=str(tmp_path / "empty.csv")))


def test_header_only(data_csv, data_cfg):
    assert "no data rows" in error_of(data_cfg(path=str(data_csv([]))))


def test_wrong_columns_say_which_are_expected(data_csv, data_cfg):
    path = data_csv([(r[0], r[1]) for r in good_rows()], header="label,pixels")
    msg = error_of(data_cfg(path=str(path)))
    assert "emotion" in msg and "emotion,pixels,Usage" in msg and "'label'" in msg


def test_wrong_pixel_count_lists_rows(data_csv, data_cfg):
    rows = good_rows()
    rows[2] = (rows[2][0], rows[2][1].ravel()[:-1], rows[2][2])
    rows[4] = (rows[4][0], " ".join(["7"] * (SIZE * SIZE + 3)), rows[4][2])
    msg = error_of(data_cfg(path=str(data_csv(rows)), image_size=SIZE))
    assert "wrong number of values at rows 3, 5" in msg and "1-based" in msg
    assert f"{SIZE * SIZE} = {SIZE}x{SIZE}" in msg


def test_non_numeric_and_out_of_range_pixels_list_rows(data_csv, data_cfg):
    rows = good_rows()
    for row, token in ((1, "abc"), (6, "300"), (7, "-1")):
        tokens = [str(v) for v in rows[row][1].ravel()]
        tokens[5] = token
        rows[row] = (rows[row][0], " ".join(tokens), rows[row][2])
    msg = error_of(data_cfg(path=str(data_csv(rows)), image_size=SIZE))
    assert "non-numeric values at rows 2;" in msg
    assert "values outside 0..255 at rows 7, 8." in msg


def test_unknown_labels_list_rows_and_valid_labels(data_csv, data_cfg):
    rows = good_rows()
    rows[0] = (7, rows[0][1], rows[0][2])
    rows[5] = ("x", rows[5][1], rows[5][2])
    msg = error_of(data_cfg(path=str(data_csv(rows)), image_size=SIZE))
    assert "data rows 1, 6" in msg and "'7'" in msg and "'x'" in msg and "6 neutral" in msg


def test_unknown_usage_lists_rows(data_csv, data_cfg):
    rows = good_rows()
    rows[3] = (rows[3][0], rows[3][1], "Validation")
    msg = error_of(data_cfg(path=str(data_csv(rows)), image_size=SIZE))
    assert "'Validation'" in msg and "data rows 4 " in msg and "PrivateTest" in msg


def test_wrong_field_count_lists_rows(data_csv, data_cfg):
    rows = good_rows()
    rows[2] = (rows[2][0], rows[2][1], rows[2][2], "extra")
    assert "data rows 3 " in error_of(data_cfg(path=str(data_csv(rows)), image_size=SIZE))
