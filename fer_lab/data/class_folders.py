"""data.source=class_folders: your own dataset, ROOT/<class>/<image files>, with its own label set.

Class names come from the folder names, optionally renamed by data.class_map (`[anger:angry, sadness:sad]`)
or left out by data.drop_folders (`[contempt]`). With data.group_pattern (a regex on the file name, e.g.
`^(S\\d+)_` for CK+ subjects) the images of one group never sit on two sides of a split. The groups are
dealt into data.folds stratified folds (seeded): fold data.test_fold is the test split, validation is a
group-aware share of the other folds. Photos that are not face crops are cropped to their largest face by
data.crop_faces (a detector: haar, mtcnn), with the margin inference adds (data.face_margin).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from fer_lab.data import cache
from fer_lab.data.folders import IMAGE_SUFFIXES, SHOWN, FaceCrop, listing, read_folder
from fer_lab.data.sources import DATA_SOURCES, DataConfig, OnBadImage, RawImages, raw_images, resolve_path
from fer_lab.data.splits import group_folds
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS

GET_OWN_DATA = "point it at a folder holding one sub-folder of images per class"


@dataclass
class ClassFoldersConfig(DataConfig):
    """A folder of class folders with its own labels, split into group-aware folds."""

    source: str = "class_folders"
    path: str | None = None
    class_map: list[str] = field(default_factory=list)  # folder:class entries renaming folders
    drop_folders: list[str] = field(default_factory=list)  # folders left out
    classes: list[str] | None = None  # the class names and their order; null: the mapped folder names
    group_pattern: str | None = None  # regex on the file name, first capture group = group; null: one per image
    folds: int = 5  # stratified group folds
    test_fold: int = 0  # the fold that is the test split
    shots_per_class: int | None = None  # keep this many training images per class (few-shot), seeded
    crop_faces: str | None = None  # detector (haar, mtcnn, ...) cropping photos to their largest face
    on_bad_image: OnBadImage = OnBadImage.skip
    cache: bool = True


@dataclass(frozen=True)
class ClassPlan:
    """Which folder feeds which class, in class order."""

    class_names: tuple[str, ...]
    folder_class: dict[str, str]  # kept folder -> class name
    dropped: tuple[str, ...]  # folders class_map drops

    def describe(self) -> str:
        kept = ", ".join(f"{f} -> {c}" if f != c else f for f, c in self.folder_class.items())
        dropped = f"; dropped {', '.join(self.dropped)}" if self.dropped else ""
        return f"class folders: {kept}{dropped}"


@DATA_SOURCES.register("class_folders", ClassFoldersConfig)
def load_class_folders(cfg: DictConfig, seed: int) -> RawImages:
    """The class folders at data.path, the test fold marked PublicTest and the others Training."""
    root = resolve_path(cfg.path, "data.path", GET_OWN_DATA)
    if not root.is_dir():
        raise FerLabError(f"data.path={cfg.path} is not a folder: data.source=class_folders reads ROOT/<class>/*.png")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    plan = plan_classes(
        folders,
        parse_class_map(cfg.class_map),
        list(cfg.drop_folders),
        list(cfg.classes) if cfg.classes else None,
        root,
    )
    entries = []
    for folder, name in plan.folder_class.items():
        files = sorted(
            f.name for f in os.scandir(root / folder) if f.is_file() and f.name.lower().endswith(IMAGE_SUFFIXES)
        )
        if not files:
            raise FerLabError(
                f"class folder {root / folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); "
                f"add images, or leave it out with data.drop_folders=[{folder}]"
            )
        entries += [(f"{folder}/{f}", "Training", plan.class_names.index(name)) for f in files]
    size, on_bad, margin = int(cfg.image_size), str(cfg.on_bad_image), float(cfg.face_margin)
    require_detector(cfg.crop_faces)
    arrays, note = cache.cached(
        "class_folders",
        lambda: cache.listing_digest(listing(root, entries)),
        {
            "image_size": size,
            "on_bad_image": on_bad,
            "classes": plan.class_names,
            "folders": plan.folder_class,
            "crop_faces": cfg.crop_faces,
            "face_margin": margin,
        },
        lambda: read_folder(root, entries, size, on_bad, face_cropper(cfg.crop_faces, size, margin)),
        bool(cfg.cache),
    )
    groups = file_groups(arrays["names"], cfg.group_pattern)
    require_fold(int(cfg.test_fold), int(cfg.folds))
    fold = group_folds(arrays["labels"], groups, int(cfg.folds), seed)
    arrays["usage"] = np.where(fold == int(cfg.test_fold), "PublicTest", "Training")
    described = f"groups from the pattern {cfg.group_pattern}" if cfg.group_pattern else "one group per image"
    n_groups = len(np.unique(groups))
    notes = [plan.describe(), f"{n_groups} groups ({described}) in {cfg.folds} stratified folds, seed {seed}"]
    usage_names = {
        "PublicTest": f"test fold {cfg.test_fold} of {cfg.folds}",
        "Training": f"folds other than {cfg.test_fold}",
    }
    return raw_images(
        {**arrays, "groups": groups},
        plan.class_names,
        f"class folders {root}",
        notes + ([note] if note else []),
        usage_names=usage_names,
    )


def require_detector(name: str | None) -> None:
    """Refuse a data.crop_faces that names no face detector."""
    from fer_lab.inference.detectors import DETECTORS

    if name and name not in DETECTORS:
        raise FerLabError(
            f"data.crop_faces={name} is not a face detector: choose one of "
            f"{' | '.join(DETECTORS.names())}, or null when the images are face crops already"
        )


def face_cropper(detector: str | None, size: int, margin: float) -> FaceCrop | None:
    """The largest face of an image (BGR and grayscale), cropped from the grayscale one as inference crops it
    (`margin`); None: no detector."""
    if not detector:
        return None
    from fer_lab.inference.detectors import make_detector  # detectors load only when asked for
    from fer_lab.inference.faces import crop_faces

    find = make_detector(str(detector))

    def crop(frame: np.ndarray, gray: np.ndarray) -> np.ndarray | None:
        boxes = find(frame, gray)
        return crop_faces(gray, boxes[:1], size, margin)[0, :, :, 0].astype(np.uint8) if boxes else None

    return crop


def parse_class_map(entries) -> dict[str, str]:
    """{folder: class} from `folder:class` entries."""
    pairs = [str(e).split(":") for e in entries]
    bad = [str(e) for e, p in zip(entries, pairs, strict=True) if len(p) != 2 or not all(s.strip() for s in p)]
    if bad:
        raise FerLabError(
            f"data.class_map entries {', '.join(bad)} are not folder:class pairs; "
            "write e.g. data.class_map=[anger:angry,sadness:sad]"
        )
    return {folder.strip(): name.strip() for folder, name in pairs}


def plan_classes(
    folders: list[str], class_map: dict[str, str], drop: list[str], classes: list[str] | None, root: Path
) -> ClassPlan:
    """Map folders to classes; unknown folder names, or classes outside `classes`, are errors."""
    if not folders:
        raise FerLabError(f"{root} holds no class folders: expected ROOT/<class>/<images>")
    for key, names in (("data.class_map", class_map), ("data.drop_folders", drop)):
        if missing := sorted(set(names) - set(folders)):
            raise FerLabError(
                f"{key} names folders that {root} does not have: {', '.join(missing)} "
                f"(its folders: {', '.join(folders)}); fix the names or remove those entries"
            )
    dropped = tuple(f for f in folders if f in drop)
    folder_class = {f: class_map.get(f, f) for f in folders if f not in drop}
    targets = sorted(set(folder_class.values()), key=_class_order)
    if classes is not None:
        unknown = [c for c in targets if c not in classes]
        if unknown:
            raise FerLabError(
                f"the class folders give {', '.join(unknown)}, not in data.classes "
                f"({', '.join(classes)}); add them to data.classes or map those folders elsewhere"
            )
        empty = [c for c in classes if c not in targets]
        if empty:
            raise FerLabError(
                f"data.classes lists {', '.join(empty)} but no folder maps to it; "
                "remove it or map a folder to it with data.class_map"
            )
        targets = list(classes)
    if len(targets) < 2:
        raise FerLabError(
            f"{root} gives {len(targets)} class after the mapping ({', '.join(targets)}): a classifier needs at least 2"
        )
    return ClassPlan(tuple(targets), folder_class, dropped)


def _class_order(name: str) -> tuple[int, str]:
    """FER-2013 classes in their usual order first, then the others alphabetically."""
    return (EMOTIONS.index(name), "") if name in EMOTIONS else (len(EMOTIONS), name)


def file_groups(names: np.ndarray, pattern: str | None) -> np.ndarray:
    """The group id of every image from its file name (`pattern`'s first capture group, else its match);
    without a pattern, its path (class folders may reuse file names)."""
    if pattern is None:
        return np.array([str(n) for n in names])
    files = [Path(str(n)).name for n in names]
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise FerLabError(f"data.group_pattern={pattern!r} is not a regular expression ({err})") from None
    matches = [regex.search(f) for f in files]
    unmatched = [f for f, m in zip(files, matches, strict=True) if m is None]
    if len(unmatched) == len(files):
        raise FerLabError(
            f"data.group_pattern={pattern!r} matches no file name (e.g. {', '.join(files[:3])}); "
            r"write a regex whose first group is the person or session, e.g. '^(S\d+)_'"
        )
    if unmatched:
        more = f" and {len(unmatched) - SHOWN} more" if len(unmatched) > SHOWN else ""
        raise FerLabError(
            f"data.group_pattern={pattern!r} matches no group in {len(unmatched)} file names: "
            f"{', '.join(unmatched[:SHOWN])}{more}; rename them or widen the pattern"
        )
    return np.array([m.group(1) if m.groups() else m.group(0) for m in matches if m is not None])


def require_fold(test_fold: int, folds: int) -> None:
    """Refuse fewer than 2 folds and a test fold outside them."""
    if folds < 2:
        raise FerLabError(f"data.folds={folds}: split the groups into at least 2 folds")
    if not 0 <= test_fold < folds:
        raise FerLabError(f"data.test_fold={test_fold} is not a fold of data.folds={folds}: use 0..{folds - 1}")
