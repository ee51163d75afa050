"""data=class_folders: your own class folders, mapped class names, group-aware folds that never leak a group."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lab.data import load_dataset, load_images
from fer_lab.data.splits import check_no_group_leaks
from fer_lab.errors import FerLabError

SIZE = 16
FOLDERS = ("anger", "contempt", "happy", "sadness")
PATTERN = r"^(S\d+)_"


def make_people(root: Path, subjects: int = 12, frames: int = 3, seed: int = 0, size: int = SIZE) -> Path:
    """ROOT/<class>/S<subject>_<frame>.png: every subject has `frames` images in two of the classes."""
    rng = np.random.default_rng(seed)
    for s in range(subjects):
        for name in (FOLDERS[s % 4], FOLDERS[(s + 1) % 4]):
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            for f in range(frames):
                cv2.imwrite(str(folder / f"S{s:03d}_{name}_{f}.png"), rng.integers(0, 256, (size, size), np.uint8))
    return root


@pytest.fixture
def people(tmp_path, data_cfg):
    root = make_people(tmp_path / "people")

    def cfg(**overrides):
        settings = {
            "path": str(root),
            "image_size": SIZE,
            "group_pattern": PATTERN,
            "folds": 4,
            "class_map": ["anger:angry", "sadness:sad"],
            "val_fraction": 0.25,
        }
        return data_cfg("class_folders", **{**settings, **overrides})

    return cfg


def error_of(cfg) -> str:
    with pytest.raises(FerLabError) as err:
        load_dataset(cfg, seed=0)
    return str(err.value)


def groups_of(data, split, raw) -> set[str]:
    by_pixels = {raw.x[i].tobytes(): raw.groups[i] for i in range(len(raw.x))}
    return {by_pixels[x.tobytes()] for x in split.x}


def test_class_names_come_from_the_mapped_folders_and_the_check_is_printed(people):
    data = load_dataset(people(), seed=0)
    assert data.class_names == ("angry", "happy", "sad", "contempt")  # FER-2013 order first, then the others
    assert "class folders: anger -> angry, contempt, happy, sadness -> sad" in data.notes
    dropped = load_dataset(people(drop_folders=["contempt"]), seed=0)
    assert dropped.class_names == ("angry", "happy", "sad")
    assert any("dropped contempt" in n for n in dropped.notes)


def test_every_fold_keeps_each_subject_on_one_side_and_the_folds_cover_everything(people):
    raw = load_images(people(), seed=0)
    assert len(np.unique(raw.groups)) == 12
    seen_test: list[str] = []
    for fold in range(4):
        data = load_dataset(people(test_fold=fold), seed=0)
        train, val, test = (groups_of(data, s, raw) for s in (data.train, data.val, data.test))
        assert train and val and test
        assert not (train & val or train & test or val & test)
        assert len(data.train) + len(data.val) + len(data.test) == len(raw.x)
        seen_test += sorted(test)
    assert sorted(seen_test) == sorted(np.unique(raw.groups))  # each subject is tested exactly once


def test_folds_depend_on_the_seed_only(people):
    first = load_dataset(people(test_fold=1), seed=3).test.fingerprint()
    assert load_dataset(people(test_fold=1), seed=3).test.fingerprint() == first
    assert load_dataset(people(test_fold=1), seed=4).test.fingerprint() != first


def test_few_shot_keeps_n_training_images_per_class_and_the_same_test_fold(people):
    full = load_dataset(people(), seed=0)
    few = load_dataset(people(shots_per_class=2), seed=0)
    assert np.bincount(few.train.labels).tolist() == [2, 2, 2, 2]
    assert few.test.fingerprint() == full.test.fingerprint() and few.val.fingerprint() == full.val.fingerprint()
    assert "2 images per class" in few.train.origin
    assert "shots_per_class=50" in error_of(people(shots_per_class=50))


def test_a_plan_that_leaks_a_group_is_refused():
    groups = np.array(["a", "a", "b", "c"])
    with pytest.raises(FerLabError, match="share 1 groups"):
        check_no_group_leaks({"train": np.array([0, 2]), "test": np.array([1, 3])}, groups)


def test_bad_input_says_what_is_wrong(people):
    assert "does not have: angr" in error_of(people(class_map=["angr:angry"]))
    assert "data.drop_folders names folders" in error_of(people(drop_folders=["neutral"]))
    assert "not folder:class pairs" in error_of(people(class_map=["anger=angry"]))
    assert "not in data.classes" in error_of(people(classes=["angry", "happy", "sad"]))
    assert "matches no file name" in error_of(people(group_pattern=r"^(P\d+)-"))
    assert "more than the 12 groups" in error_of(people(folds=20))
    assert "data.test_fold=4" in error_of(people(test_fold=4))
    assert "not a regular expression" in error_of(people(group_pattern="(S"))
    assert "is not set" in error_of(people(path=None))


def test_crop_faces_crops_each_photo_to_its_largest_face_and_keeps_faceless_ones_whole(tmp_path, data_cfg, monkeypatch):
    from fer_lab.inference import detectors
    from fer_lab.inference.faces import Box

    rng = np.random.default_rng(0)
    for name, has_face in (("happy", True), ("happy", False), ("sad", True), ("sad", True)):
        photo = rng.integers(0, 60, (64, 80), np.uint8)  # a dark scene, not square
        if has_face:
            photo[16:48, 24:56] = 230  # a bright 32-pixel "face"
        if name == "sad":
            photo = cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR)  # colour photos reach the detector in colour
            photo[..., 2] //= 2
        folder = tmp_path / "photos" / name
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"P{len(list(folder.iterdir()))}_{int(has_face)}.png"), photo)
    asked, frames = [], []

    def fake_detector(name):
        asked.append(name)

        def detect(frame, gray):
            frames.append(frame)
            return [Box(24, 16, 32, 32)] if gray[32, 40] > 100 else []

        return detect

    monkeypatch.setattr(detectors, "make_detector", fake_detector)
    settings = {
        "path": str(tmp_path / "photos"),
        "image_size": SIZE,
        "folds": 2,
        "val_fraction": 0.5,
        "face_margin": 0.0,
    }
    raw = load_images(data_cfg("class_folders", **settings, crop_faces="haar"), seed=0)
    assert asked == ["haar"]
    assert [f.shape for f in frames] == [(64, 80, 3)] * 4
    assert sum(not np.array_equal(f[..., 0], f[..., 2]) for f in frames) == 2  # the two colour photos
    faces = np.array(["_1" in str(n) for n in raw.names])
    assert raw.x[faces].min() >= 150 and raw.x[~faces].mean() < 100  # crops hold the face only; whole scene stays
    assert "cropped 3 images to their largest face; found no face in 1, kept whole: happy/P1_0.png" in raw.notes
    assert "is not a face detector: choose one of" in error_of(data_cfg("class_folders", **settings, crop_faces="nope"))


def test_without_a_pattern_every_image_is_its_own_group_even_where_class_folders_reuse_file_names(tmp_path, data_cfg):
    rng = np.random.default_rng(0)
    for name in ("happy", "sad"):
        (tmp_path / "numbered" / name).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(tmp_path / "numbered" / name / f"{i}.png"), rng.integers(0, 256, (SIZE, SIZE), np.uint8))
    numbered = {"path": str(tmp_path / "numbered"), "image_size": SIZE}
    raw = load_images(data_cfg("class_folders", **numbered, folds=3), seed=0)
    assert len(np.unique(raw.groups)) == 6
    assert "more than the 3 images of the largest class" in error_of(data_cfg("class_folders", **numbered, folds=6))
    assert "fall into one group" in error_of(data_cfg("class_folders", **numbered, group_pattern="(png)$"))
