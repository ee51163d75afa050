"""Dataset types and the two entry points: load_images (all rows, before splitting) and load_dataset."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.data.sources import DATA_SOURCES, RawImages
from fer_lab.data.splits import check_split_config, plan_splits


@dataclass(frozen=True)
class Split:
    """One split: x uint8 (N,S,S,1) raw pixels, y float32 (N,K) label distributions, where it came from."""

    name: str  # train | val | test
    x: np.ndarray
    y: np.ndarray
    origin: str  # e.g. "Training minus stratified 10% validation", "PublicTest"
    groups: np.ndarray | None = None  # per-row group (person) when the source has them

    @property
    def labels(self) -> np.ndarray:
        """Hard labels (argmax of y)."""
        return self.y.argmax(axis=1)

    def __len__(self) -> int:
        return len(self.x)

    def fingerprint(self) -> str:
        """Short hash of the images and labels: equal fingerprints mean metrics on this split compare."""
        digest = hashlib.sha1(np.ascontiguousarray(self.x).tobytes())
        digest.update(np.ascontiguousarray(self.y, dtype=np.float32).tobytes())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class FerData:
    """The splits of one dataset, its class names, a description of the source and loading notes."""

    train: Split
    val: Split
    test: Split | None
    class_names: tuple[str, ...]
    source: str
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {class: images}} for logging."""
        k = len(self.class_names)
        return {
            s.name: dict(zip(self.class_names, np.bincount(s.labels, minlength=k).tolist(), strict=True))
            for s in (self.train, self.val, self.test)
            if s is not None
        }


def load_dataset(cfg: DictConfig, seed: int) -> FerData:
    """Load the images cfg (the `data` config node) describes and split them into train/val/test."""
    cfg = data_config(cfg)  # typed once, for the loader and the split plan
    raw = DATA_SOURCES[cfg.source](cfg, seed)
    plan = plan_splits(raw.x, raw.labels, raw.usage, cfg, seed, raw.usage_names, raw.groups)
    splits = {
        name: Split(
            name, raw.x[rows], raw.y[rows], plan.origins[name], None if raw.groups is None else raw.groups[rows]
        )
        for name, rows in plan.indices.items()
    }
    return FerData(
        splits["train"], splits["val"], splits.get("test"), raw.class_names, raw.source, raw.notes + plan.notes
    )


def load_images(cfg: DictConfig, seed: int = 0) -> RawImages:
    """All images of the configured source (data.source) with one-hot (or FER+ soft) labels and their Usage."""
    cfg = data_config(cfg)
    return DATA_SOURCES[cfg.source](cfg, seed)


def data_config(cfg: DictConfig | dict) -> DictConfig:
    """cfg checked against its source's schema (types, choices, unknown keys) and the ranges a type cannot say."""
    cfg = DATA_SOURCES.config(cfg, cfg.get("source", "auto"))
    size = cfg.image_size
    require(16 <= size <= 512, "data.image_size", size, "an integer in [16, 512]")
    require(0 <= cfg.face_margin <= 1, "data.face_margin", cfg.face_margin, "a number in [0, 1]")
    check_split_config(cfg)
    return cfg
