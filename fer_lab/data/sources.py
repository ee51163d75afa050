"""The data.source extension point: DATA_SOURCES maps each source name to its loader, `(cfg, seed) -> RawImages`,
with the dataclass of its keys (conf/data/<config>.yaml extends `<source>_schema`).

Adding a source is one module in fer_lab/data/ (the package imports every module, so it registers itself)
plus one conf/data/<name>.yaml:

    @DATA_SOURCES.register("mine", MineConfig)   # MineConfig(DataConfig): the YAML keys and their defaults
    def load_mine(cfg: DictConfig, seed: int) -> RawImages: ...
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import MISSING, DictConfig

from fer_lab.data.download import GET_FER2013
from fer_lab.data.splits import TestSplit, ValFrom
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS
from fer_lab.registry import Registry


@dataclass(frozen=True)
class RawImages:
    """Every loaded image before splitting; usage is Training | PublicTest | PrivateTest per row."""

    x: np.ndarray
    y: np.ndarray
    usage: np.ndarray
    class_names: tuple[str, ...] = EMOTIONS
    source: str = ""
    notes: tuple[str, ...] = ()
    names: np.ndarray | None = None  # per-row identifier: "data row 17", "train/angry/x.jpg", ...
    usage_names: dict[str, str] = field(default_factory=dict)  # how the source shows a Usage, if not as itself
    groups: np.ndarray | None = None  # per-row group (person, session): no group is ever on two sides of a split

    @property
    def labels(self) -> np.ndarray:
        """Hard labels (argmax of y)."""
        return self.y.argmax(axis=1)


DATA_SOURCES: Registry[Callable[[DictConfig, int], RawImages]] = Registry("data", "source")


@dataclass
class DataConfig:
    """Keys every data source has."""

    source: str = MISSING
    image_size: int = 48  # side of the square grayscale images; others are resized
    val_fraction: float = 0.1  # stratified share of Training held out for validation
    face_margin: float = 0.02  # margin (fraction of the box side) inference adds around a detected face


class OnBadImage(enum.StrEnum):
    """data.on_bad_image: what an unreadable image file does."""

    skip = "skip"
    fail = "fail"


@dataclass
class FilesConfig(DataConfig):
    """Keys of sources that read FER-2013 files with a Usage per image: where, how to split, caching."""

    path: str | None = "${fer_lab_root:}/data/fer2013"
    val_from: ValFrom = ValFrom.train
    test_split: TestSplit | None = TestSplit.PublicTest  # reported only, never used for model selection
    drop_cross_split_duplicates: bool = False  # drop train/val images whose exact pixels occur in a later split
    cache: bool = True  # decoded images cached under <project root>/.cache/data, keyed by content


@dataclass
class Fer2013Config(FilesConfig):
    """FER-2013 from the challenge CSV (csv), the Kaggle folders (folder), or either as the path looks (auto)."""

    source: str = "auto"
    on_bad_image: OnBadImage = OnBadImage.skip


def resolve_path(value, key: str, how_to_get: str = GET_FER2013) -> Path:
    """Absolute path (relative ones resolve against the current directory); a missing path is an error that
    says how to get the data."""
    if value is None or not str(value).strip():
        raise FerLabError(f"{key} is not set: pass the data location, e.g. `{key}=/abs/path/fer2013.csv.gz`")
    path = (Path.cwd() / Path(str(value)).expanduser()).resolve()
    if not path.exists():
        raise FerLabError(
            f"{key}={value} does not exist (looked for {path}; relative paths resolve against "
            f"the current directory {Path.cwd()}). Pass an existing file or folder, preferably "
            f"absolute: `{key}=/abs/path/...`; {how_to_get}"
        )
    return path


def raw_images(
    arrays: dict[str, np.ndarray],
    class_names: tuple[str, ...],
    source: str,
    notes: list[str],
    y: np.ndarray | None = None,
    usage_names: dict[str, str] | None = None,
) -> RawImages:
    """RawImages from loader arrays (x, labels, usage, notes, optional names and groups); hard labels become one-hot
    unless distributions y are given."""
    if y is None:
        y = np.eye(len(class_names), dtype=np.float32)[arrays["labels"]]
    return RawImages(
        arrays["x"],
        y,
        arrays["usage"],
        class_names,
        source,
        tuple(arrays["notes"].tolist()) + tuple(notes),
        arrays.get("names"),
        dict(usage_names or {}),
        arrays.get("groups"),
    )
