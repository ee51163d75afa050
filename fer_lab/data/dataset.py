"""Dataset types and the two entry points: load_images (all rows, before splitting) and load_dataset."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.data import cache, fer_csv, ferplus, folders, synthetic
from fer_lab.data.splits import TEST_SPLITS, VAL_FROM, configured_test_split, plan_splits
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS, class_names

SOURCES = ("auto", "csv", "folder", "ferplus", "synthetic")
BAD_IMAGE_MODES = ("skip", "fail")


@dataclass(frozen=True)
class Split:
    """One split: x uint8 (N,S,S,1) raw pixels, y float32 (N,K) label distributions, where it came from."""

    name: str  # train | val | test
    x: np.ndarray
    y: np.ndarray
    origin: str  # e.g. "Training minus stratified 10% validation", "PublicTest"

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
        return {s.name: dict(zip(self.class_names, np.bincount(s.labels, minlength=k).tolist()))
                for s in (self.train, self.val, self.test) if s is not None}


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

    @property
    def labels(self) -> np.ndarray:
        """Hard labels (argmax of y)."""
        return self.y.argmax(axis=1)


def load_dataset(cfg: DictConfig, seed: int) -> FerData:
    """Load the images cfg (the `data` config node) describes and split them into train/val/test."""
    raw = load_images(cfg, seed=seed)
    plan = plan_splits(raw.x, raw.labels, raw.usage, cfg, seed)
    splits = {name: Split(name, raw.x[rows], raw.y[rows], plan.origins[name]) for name, rows in plan.indices.items()}
    return FerData(splits["train"], splits["val"], splits.get("test"), raw.class_names, raw.source,
                   raw.notes + plan.notes)


def load_images(cfg: DictConfig, seed: int = 0) -> RawImages:
    """All images of the configured source with one-hot (or FER+ soft) labels and their Usage."""
    validate_config(cfg)
    source, size = cfg.get("source", "auto"), int(cfg.image_size)
    if source == "synthetic":
        arrays = synthetic.generate(int(cfg.samples_per_class), size, float(cfg.test_fraction),
                                    float(cfg.get("noise", 0.05)), seed)
        return _raw(arrays, EMOTIONS, f"SYNTHETIC drawn faces (not real data; seed {seed}, "
                                      f"{cfg.samples_per_class} per class)", [])
    path = resolve_path(cfg.path, "data.path")
    use_cache = bool(cfg.get("cache", True))
    if _format(source, path) == "folder":
        entries, notes = folders.scan(path)
        on_bad = str(cfg.get("on_bad_image", "skip"))
        arrays, note = cache.cached("folder", lambda: cache.listing_digest(folders.listing(path, entries)),
                                    {"image_size": size, "on_bad_image": on_bad},
                                    lambda: folders.read_folder(path, entries, size, on_bad), use_cache)
        description = f"FER-2013 folder layout {path} (train -> Training, test -> PublicTest)"
    else:
        arrays, note = cache.cached("csv", lambda: cache.file_digest(path), {"image_size": size},
                                    lambda: fer_csv.read_csv(path, size), use_cache)
        arrays["names"] = np.char.add("data row ", (np.arange(len(arrays["labels"])) + 1).astype(str))
        description, notes = f"FER-2013 challenge CSV {path}", []
    notes += [note] if note else []
    if source != "ferplus":
        return _raw(arrays, EMOTIONS, description, notes)
    votes_path = resolve_path(cfg.votes_path, "data.votes_path")
    keep, y, vote_notes = ferplus.apply_votes(votes_path, arrays["usage"], arrays["labels"], str(cfg.label_mode),
                                              bool(cfg.include_contempt))
    arrays = {name: values if name == "notes" else values[keep] for name, values in arrays.items()}
    return _raw(arrays, class_names(bool(cfg.include_contempt)),
                f"FER+ {cfg.label_mode} votes {votes_path} on {description}", notes + vote_notes, y)


def _raw(arrays: dict[str, np.ndarray], names: tuple[str, ...], source: str, notes: list[str],
         y: np.ndarray | None = None) -> RawImages:
    """RawImages from loader arrays; hard labels become one-hot unless distributions y are given."""
    if y is None:
        y = np.eye(len(names), dtype=np.float32)[arrays["labels"]]
    return RawImages(arrays["x"], y, arrays["usage"], names, source,
                     tuple(arrays["notes"].tolist()) + tuple(notes), arrays.get("names"))


def resolve_path(value, key: str) -> Path:
    """Absolute path (relative ones resolve against the current directory); a missing path is an error."""
    if value is None or not str(value).strip():
        raise FerLabError(f"{key} is not set: pass the data location, e.g. `{key}=/abs/path/fer2013.csv.gz`")
    path = (Path.cwd() / Path(str(value)).expanduser()).resolve()
    if not path.exists():
        raise FerLabError(f"{key}={value} does not exist (looked for {path}; relative paths resolve against "
                          f"the current directory {Path.cwd()}). Pass an existing file or folder, preferably "
                          f"absolute: `{key}=/abs/path/...`")
    return path


def _format(source: str, path: Path) -> str:
    """csv or folder, as data.source says or (auto) as the path looks."""
    if source == "auto":
        if path.is_dir():
            return "folder"
        if path.name.lower().endswith((".csv", ".csv.gz")):
            return "csv"
        raise FerLabError(f"cannot tell the format of {path} (expected a folder or a .csv/.csv.gz file); "
                          "set data.source=csv or data.source=folder")
    if source == "folder" and not path.is_dir():
        raise FerLabError(f"data.source=folder but {path} is not a folder; use data.source=csv or auto")
    if source in ("csv", "ferplus") and path.is_dir():
        raise FerLabError(f"data.source={source} but {path} is a folder; point data.path at the CSV file "
                          "or use data.source=folder")
    return "folder" if source == "folder" else "csv"


def validate_config(cfg: DictConfig) -> None:
    """Check every data value up front, naming the key, the bad value and what is allowed."""
    source = cfg.get("source", "auto")
    require(source in SOURCES, "data.source", source, " | ".join(SOURCES))
    size = cfg.get("image_size")
    require(_is_int(size) and 16 <= size <= 512, "data.image_size", size, "an integer in [16, 512]")
    require(_fraction(cfg.get("val_fraction")), "data.val_fraction", cfg.get("val_fraction"),
            "a number strictly between 0 and 1")
    require(_is_number(cfg.get("face_margin", 0.0)) and 0 <= cfg.get("face_margin", 0.0) <= 1,
            "data.face_margin", cfg.get("face_margin"), "a number in [0, 1]")
    if source == "synthetic":
        require(_is_int(cfg.get("samples_per_class")) and cfg.samples_per_class >= 10, "data.samples_per_class",
                cfg.get("samples_per_class"), "an integer >= 10")
        require(_fraction(cfg.get("test_fraction")), "data.test_fraction", cfg.get("test_fraction"),
                "a number strictly between 0 and 1")
        require(cfg.val_fraction + cfg.test_fraction < 1, "data.val_fraction", cfg.val_fraction,
                f"a number below 1 - data.test_fraction ({cfg.test_fraction})")
        require(_is_number(cfg.get("noise", 0.05)) and 0 <= cfg.get("noise", 0.05) <= 1, "data.noise",
                cfg.get("noise"), "a number in [0, 1] (noise std as a fraction of 255)")
    else:
        val_from, test = cfg.get("val_from", "train"), configured_test_split(cfg)
        require(val_from in VAL_FROM, "data.val_from", val_from, " | ".join(VAL_FROM))
        require(test in TEST_SPLITS, "data.test_split", test, " | ".join(TEST_SPLITS))
        if val_from == "public_test" and test == "PublicTest":
            raise FerLabError("data.val_from=public_test with data.test_split=PublicTest would select models on "
                              "the test split: set data.test_split=PrivateTest or none, or data.val_from=train")
        require(cfg.get("on_bad_image", "skip") in BAD_IMAGE_MODES, "data.on_bad_image", cfg.get("on_bad_image"),
                " | ".join(BAD_IMAGE_MODES))
    for key in ("cache", "drop_cross_split_duplicates", "include_contempt"):
        require(isinstance(cfg.get(key, False), bool), f"data.{key}", cfg.get(key), "true or false")
    if source == "ferplus":
        require(cfg.get("label_mode") in ferplus.LABEL_MODES, "data.label_mode", cfg.get("label_mode"),
                " | ".join(ferplus.LABEL_MODES))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fraction(value) -> bool:
    return _is_number(value) and 0 < value < 1
