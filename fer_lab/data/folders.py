"""data.source=folder: the Kaggle folder layout ROOT/{train,test}/<emotion>/<image files>.

train/ becomes Training and test/ PublicTest, except test files named PrivateTest_* (the Kaggle copy keeps the
challenge's Usage in its file names), which become PrivateTest. Images are decoded with OpenCV on a thread pool
(decoding releases the GIL), converted to grayscale and resized to the configured size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from omegaconf import DictConfig

from fer_lab.data import cache
from fer_lab.data.sources import DATA_SOURCES, Fer2013Config, RawImages, raw_images, resolve_path
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS

SPLIT_DIRS = {"train": "Training", "test": "PublicTest"}
PRIVATE_TEST_PREFIX = "PrivateTest_"  # test/ file names of the PrivateTest part in the Kaggle copy
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm")  # cv2.imread
ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
}
SHOWN = 10
_CHUNK = 512  # files per thread-pool task

FaceCrop = Callable[[np.ndarray, np.ndarray], np.ndarray | None]  # (BGR, gray) -> (S, S) crop, None: no face


@DATA_SOURCES.register("folder", Fer2013Config)
def load_folder(cfg: DictConfig, seed: int) -> RawImages:
    """The folder tree at data.path."""
    path = resolve_path(cfg.path, "data.path")
    if not path.is_dir():
        raise FerLabError(f"data.source=folder but {path} is not a folder; use data.source=csv or auto")
    entries, notes = scan(path)
    size, on_bad = int(cfg.image_size), str(cfg.on_bad_image)
    arrays, note = cache.cached(
        "folder",
        lambda: cache.listing_digest(listing(path, entries)),
        {"image_size": size, "on_bad_image": on_bad},
        lambda: read_folder(path, entries, size, on_bad),
        bool(cfg.cache),
    )
    test = "PublicTest and PrivateTest by file name" if (arrays["usage"] == "PrivateTest").any() else "PublicTest"
    description = f"FER-2013 folder layout {path} (train -> Training, test -> {test})"
    return raw_images(arrays, EMOTIONS, description, notes + ([note] if note else []))


def scan(root: Path) -> tuple[list[tuple[str, str, int]], list[str]]:
    """(path relative to root, usage, label) for every image, sorted, and notes; layout problems are errors."""
    if not (root / "train").is_dir():
        found = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
        raise FerLabError(
            f"{root} has no train/ folder (found: {found}): expected the Kaggle layout "
            "ROOT/train/<emotion>/*.jpg and optionally ROOT/test/<emotion>/*.jpg; "
            "point data.path at ROOT"
        )
    entries: list[tuple[str, str, int]] = []
    unknown: list[str] = []
    empty: list[str] = []
    for split in SPLIT_DIRS:
        if not (root / split).is_dir():
            continue
        for class_dir in sorted(p for p in (root / split).iterdir() if p.is_dir()):
            name = ALIASES.get(class_dir.name.lower(), class_dir.name.lower())
            if name not in EMOTIONS:
                unknown.append(f"{split}/{class_dir.name}")
                continue
            files = sorted(
                f.name for f in os.scandir(class_dir) if f.is_file() and f.name.lower().endswith(IMAGE_SUFFIXES)
            )
            if not files:
                empty.append(f"{split}/{class_dir.name}")
            entries += [(f"{split}/{class_dir.name}/{f}", _usage(split, f), EMOTIONS.index(name)) for f in files]
    if unknown:
        raise FerLabError(
            f"unknown class folders in {root}: {', '.join(unknown)}; expected the 7 FER-2013 "
            f"names {', '.join(EMOTIONS)} (also accepted: {', '.join(ALIASES)}). "
            "Rename or remove those folders"
        )
    if empty:
        raise FerLabError(
            f"class folders without images ({', '.join(IMAGE_SUFFIXES)}) in {root}: "
            f"{', '.join(empty)}; add images or remove those folders"
        )
    ignored = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in SPLIT_DIRS)
    notes = [f"ignored folders {', '.join(ignored)} in {root}: only train/ and test/ are read"] if ignored else []
    return entries, notes


def _usage(split: str, file_name: str) -> str:
    if split == "test" and file_name.startswith(PRIVATE_TEST_PREFIX):
        return "PrivateTest"
    return SPLIT_DIRS[split]


def listing(root: Path, entries: list[tuple[str, str, int]]) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) per image, for the cache key."""
    stats = ((rel, os.stat(root / rel)) for rel, _, _ in entries)
    return [(rel, st.st_size, st.st_mtime_ns) for rel, st in stats]


def read_folder(
    root: Path, entries: list[tuple[str, str, int]], image_size: int, on_bad_image: str, face: FaceCrop | None = None
) -> dict[str, np.ndarray]:
    """Decode every image: x (N,S,S,1) uint8, labels (N,), usage (N,), names (N,) relative paths.

    With `face`, each image becomes its face crop (one image at a time: detectors need not be thread-safe);
    images where it finds no face are kept whole and named in the notes.
    """
    paths = [str(root / rel) for rel, _, _ in entries]
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # bad files are reported in notes
    try:
        workers = 1 if face else min(8, 2 * (os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            decoded = [
                item
                for chunk in pool.map(lambda c: [_decode(p, image_size, face) for p in c], chunks)
                for item in chunk
            ]
    finally:
        cv2.utils.logging.setLogLevel(previous)
    bad = [rel for (rel, _, _), (img, _) in zip(entries, decoded, strict=True) if img is None]
    if bad and on_bad_image == "fail":
        raise FerLabError(
            f"cannot read image {root / bad[0]} (corrupt or not an image; {len(bad)} such files): "
            "fix or delete it, or set data.on_bad_image=skip to skip unreadable images"
        )
    keep = [i for i, (img, _) in enumerate(decoded) if img is not None]
    images = [img for img, _ in decoded if img is not None]
    if not keep:
        raise FerLabError(f"no readable images in {root}; check the files or point data.path elsewhere")
    flags = [decoded[i][1] for i in keep]
    notes = []
    if bad:
        more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        notes.append(f"skipped {len(bad)} unreadable images: {', '.join(bad[:SHOWN])}{more}")
    if n := sum("colour" in f for f in flags):
        notes.append(f"converted {n} colour images to grayscale")
    if n := sum("resized" in f for f in flags):
        notes.append(f"resized {n} images of other sizes to {image_size}x{image_size}")
    if face:
        faceless = [entries[i][0] for i, f in zip(keep, flags, strict=True) if "no face" in f]
        more = f" and {len(faceless) - SHOWN} more" if len(faceless) > SHOWN else ""
        notes.append(
            f"cropped {len(keep) - len(faceless)} images to their largest face"
            + (
                f"; found no face in {len(faceless)}, kept whole: {', '.join(faceless[:SHOWN])}{more}"
                if faceless
                else ""
            )
        )
    return {
        "x": np.stack(images)[..., None],
        "labels": np.array([entries[i][2] for i in keep], np.int64),
        "usage": np.array([entries[i][1] for i in keep]),
        "names": np.array([entries[i][0] for i in keep]),
        "notes": np.array(notes, dtype=str),
    }


def _decode(path: str, size: int, face: FaceCrop | None = None) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """A (size, size) uint8 grayscale image (or None if unreadable), its face crop with `face`, and what was
    done to it."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        return None, ()
    flags: tuple[str, ...] = ()
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        return None, ()
    colour = None
    if img.ndim == 3:
        if img.shape[2] >= 3:
            flags += ("colour",)
            colour = img if img.shape[2] == 3 else cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        else:
            img = img[..., 0]
    if face:
        crop = face(colour if colour is not None else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), img)
        if crop is not None:
            return crop, flags
        flags += ("no face",)
    if img.shape != (size, size):
        flags += ("resized",)
        interp = cv2.INTER_AREA if min(img.shape) > size else cv2.INTER_LINEAR
        img = cv2.resize(img, (size, size), interpolation=interp)
    return img, flags
