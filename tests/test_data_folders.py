"""Kaggle folder layout loader: ROOT/{train,test}/<emotion>/*.png|jpg."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lab.data import load_dataset, load_images
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS

SIZE = 16


def make_tree(root: Path, per_class: dict[str, int], classes=EMOTIONS, seed: int = 0) -> Path:
    """PNG images ROOT/<split>/<class>/<i>.png with distinct random pixels."""
    rng = np.random.default_rng(seed)
    for split, n in per_class.items():
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8))
    return root


def error_of(cfg) -> str:
    with pytest.raises(FerLabError) as err:
        load_images(cfg)
    return str(err.value)


def test_folder_loads_splits_labels_and_exact_pixels(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"train": 3, "test": 1})
    raw = load_images(data_cfg(path=str(root), image_size=SIZE))
    assert raw.x.shape == (28, SIZE, SIZE, 1) and raw.x.dtype == np.uint8
    assert (raw.usage == "Training").sum() == 21 and (raw.usage == "PublicTest").sum() == 7
    i = list(raw.names).index("train/happy/2.png")
    assert raw.labels[i] == EMOTIONS.index("happy")
    np.testing.assert_array_equal(raw.x[i, ..., 0], cv2.imread(str(root / "train/happy/2.png"), cv2.IMREAD_GRAYSCALE))
    assert raw.notes == () and str(root) in raw.source


def test_folder_aliases_and_missing_test_dir(tmp_path, data_cfg):
    classes = ["anger", "disgust", "fear", "Happiness", "sadness", "surprised", "neutral"]
    root = make_tree(tmp_path / "fer", {"train": 5}, classes=classes)
    data = load_dataset(data_cfg(path=str(root), image_size=SIZE, val_fraction=0.2), seed=0)
    assert data.test is None and any("no PublicTest" in n for n in data.notes)
    assert data.counts()["train"] == {name: 4 for name in EMOTIONS}


def test_unknown_class_folder_lists_it_and_expected_names(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"train": 1})
    (root / "train" / "bored").mkdir()
    (root / "train" / "contempt").mkdir()
    msg = error_of(data_cfg(path=str(root), image_size=SIZE))
    assert "train/bored" in msg and "train/contempt" in msg and ", ".join(EMOTIONS) in msg


def test_empty_class_folder(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"train": 1, "test": 1})
    for f in (root / "test" / "sad").iterdir():
        f.unlink()
    (root / "test" / "sad" / "readme.txt").write_text("not an image")
    assert "test/sad" in error_of(data_cfg(path=str(root), image_size=SIZE))


def test_missing_train_folder(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"test": 1})
    msg = error_of(data_cfg(path=str(root), image_size=SIZE))
    assert "no train/ folder" in msg and "found: test" in msg


def test_corrupt_image_skipped_with_count_or_fails(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"train": 2})
    (root / "train" / "fear" / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    raw = load_images(data_cfg(path=str(root), image_size=SIZE))
    assert len(raw.x) == 14
    assert "skipped 1 unreadable images: train/fear/broken.jpg" in raw.notes
    msg = error_of(data_cfg(path=str(root), image_size=SIZE, on_bad_image="fail"))
    assert "broken.jpg" in msg and "on_bad_image=skip" in msg


def test_other_size_resized_and_colour_converted_with_notes(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"train": 1})
    cv2.imwrite(str(root / "train/sad/big.png"), np.full((40, 30), 200, np.uint8))
    colour = np.zeros((SIZE, SIZE, 3), np.uint8)
    colour[..., 2] = 255  # pure red in BGR
    cv2.imwrite(str(root / "train/angry/red.png"), colour)
    raw = load_images(data_cfg(path=str(root), image_size=SIZE))
    names = list(raw.names)
    assert raw.x.shape[1:] == (SIZE, SIZE, 1)
    np.testing.assert_array_equal(raw.x[names.index("train/sad/big.png")], 200)
    np.testing.assert_allclose(raw.x[names.index("train/angry/red.png")], 76, atol=1)  # 0.299 * 255
    assert "resized 1 images of other sizes to 16x16" in raw.notes
    assert "converted 1 colour images to grayscale" in raw.notes


def test_other_top_level_folders_are_noted(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"train": 1, "val": 1})
    raw = load_images(data_cfg(path=str(root), image_size=SIZE))
    assert len(raw.x) == 7 and any("ignored folders val" in n for n in raw.notes)


def test_kaggle_private_test_file_names_are_private_test(tmp_path, data_cfg):
    root = make_tree(tmp_path / "fer", {"train": 2, "test": 1})
    for i, name in enumerate(EMOTIONS):
        (root / "test" / name / "0.png").rename(root / "test" / name / f"PrivateTest_{i}.png")
    cv2.imwrite(str(root / "test" / "sad" / "PublicTest_9.png"), np.zeros((SIZE, SIZE), np.uint8))
    data = load_dataset(data_cfg(path=str(root), image_size=SIZE, val_fraction=0.5), seed=0)
    assert len(data.test) == 1 and data.test.origin == "PublicTest"
    assert any("PrivateTest (7 images) unused" in n for n in data.notes)
    private = load_dataset(
        data_cfg(path=str(root), image_size=SIZE, val_fraction=0.5, test_split="PrivateTest"), seed=0
    )
    assert len(private.test) == 7 and "PublicTest and PrivateTest by file name" in private.source


def test_every_image_format_opencv_reads_is_found(tmp_path, data_cfg):
    from fer_lab.data.folders import IMAGE_SUFFIXES

    root = make_tree(tmp_path / "fer", {"train": 1})
    image = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    for suffix in IMAGE_SUFFIXES:
        pixels = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if suffix == ".ppm" else image  # PPM is colour only
        assert cv2.imwrite(str(root / "train" / "happy" / f"x{suffix}"), pixels), suffix
    raw = load_images(data_cfg(path=str(root), image_size=SIZE))
    assert len(raw.x) == 7 + len(IMAGE_SUFFIXES)
