"""Train / validation / test assignment from Usage, with a seeded stratified validation split.

Test rows (PublicTest or PrivateTest) never reach train or validation; validation is a stratified fraction
of Training (val_from=train) or PublicTest (val_from=public_test, only when PublicTest is not the test split).
drop_cross_split_duplicates removes train rows whose exact pixels occur in val or test, and val rows whose
pixels occur in test.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.errors import FerLabError


class TestSplit(enum.StrEnum):
    """data.test_split: the Usage reported as the test split (null reads as none)."""

    PublicTest = "PublicTest"
    PrivateTest = "PrivateTest"
    none = "none"


class ValFrom(enum.StrEnum):
    """data.val_from: where the validation split comes from."""

    train = "train"
    public_test = "public_test"


@dataclass(frozen=True)
class SplitPlan:
    """Row indices (into the loaded images) and a description of each split."""

    indices: dict[str, np.ndarray]  # "train", "val" and, unless test_split is none, "test"
    origins: dict[str, str]
    notes: tuple[str, ...]
    dropped_duplicates: dict[str, int]  # rows removed from train and val by drop_cross_split_duplicates


def configured_test_split(cfg: DictConfig) -> str:
    """The configured test split, with YAML null read as none."""
    value = cfg.get("test_split", "PublicTest")
    return "none" if value is None else str(value)


def check_split_config(cfg: DictConfig) -> None:
    """Refuse a validation fraction outside (0, 1) and validation on the test split."""
    fraction = cfg.val_fraction
    require(0 < fraction < 1, "data.val_fraction", fraction, "a number strictly between 0 and 1")
    if cfg.get("val_from", "train") == "public_test" and configured_test_split(cfg) == "PublicTest":
        raise FerLabError(
            "data.val_from=public_test with data.test_split=PublicTest would select models on "
            "the test split: set data.test_split=PrivateTest or none, or data.val_from=train"
        )


def plan_splits(
    x: np.ndarray,
    labels: np.ndarray,
    usage: np.ndarray,
    cfg: DictConfig,
    seed: int,
    usage_names: Mapping[str, str] | None = None,
    groups: np.ndarray | None = None,
) -> SplitPlan:
    """Assign rows to train/val/test as cfg (val_from, val_fraction, test_split, drop_cross_split_duplicates,
    shots_per_class) says.

    usage_names: how the source names its Usage values in origins and notes (default: the Usage itself).
    groups: per-row group ids; validation then takes whole groups, and a plan with a group on two sides is refused.
    """
    names = dict(usage_names or {})

    def shown(usage_value: str) -> str:
        return names.get(usage_value, usage_value)

    notes: list[str] = []
    test_name = configured_test_split(cfg)
    indices: dict[str, np.ndarray] = {}
    origins: dict[str, str] = {}
    if test_name != "none":
        rows = np.flatnonzero(usage == test_name)
        if rows.size:
            indices["test"], origins["test"] = rows, shown(test_name)
        elif test_name == "PrivateTest":
            raise FerLabError(
                "data.test_split=PrivateTest but the data holds no PrivateTest rows; "
                "use data.test_split=PublicTest or none"
            )
        else:
            notes.append(f"no {shown('PublicTest')} images: there is no test split")
    training = np.flatnonzero(usage == "Training")
    if not training.size:
        raise FerLabError("the data holds no Training images; check data.path")
    if cfg.get("val_from", "train") == "public_test":
        val = np.flatnonzero(usage == "PublicTest")
        if not val.size:
            raise FerLabError(
                "data.val_from=public_test but the data holds no PublicTest images; use data.val_from=train"
            )
        indices["train"], indices["val"] = training, val
        origins["train"], origins["val"] = shown("Training"), shown("PublicTest")
    else:
        fraction = float(cfg.val_fraction)
        if groups is None:
            val = stratified_sample(labels[training], fraction, seed)
        else:
            val = group_sample(labels[training], groups[training], fraction, seed)
        pct = f"{fraction * 100:g}%" + ("" if groups is None else " of the groups")
        indices["train"], indices["val"] = np.delete(training, val), training[val]
        origins["train"] = f"{shown('Training')} minus stratified {pct} validation"
        origins["val"] = f"stratified {pct} of {shown('Training')}"
    if shots := cfg.get("shots_per_class"):
        indices["train"] = few_shot(indices["train"], labels, int(shots), seed)
        origins["train"] += f", {shots} images per class"
    used = np.concatenate(list(indices.values()))
    for name in ("PublicTest", "PrivateTest"):
        if n := int(np.count_nonzero(usage == name)) - int(np.count_nonzero(usage[used] == name)):
            notes.append(f"{shown(name)} ({n} images) unused by this config")
    dropped = {"train": 0, "val": 0}
    if cfg.get("drop_cross_split_duplicates", False):
        test_rows = indices.get("test", np.empty(0, np.int64))
        train_ids, val_ids, test_ids = image_ids(x[indices["train"]], x[indices["val"]], x[test_rows])
        copies = {"train": np.isin(train_ids, np.concatenate([val_ids, test_ids])), "val": np.isin(val_ids, test_ids)}
        for name, later in (("train", "val/test"), ("val", "test")):
            dropped[name] = int(copies[name].sum())
            indices[name] = indices[name][~copies[name]]
            if dropped[name]:
                origins[name] += f", minus {dropped[name]} exact copies of {later} images"
        notes.append(
            f"dropped {dropped['train']} train and {dropped['val']} validation images whose exact pixels "
            "also occur in a later split (val or test)"
        )
    if groups is not None:
        check_no_group_leaks(indices, groups)
    return SplitPlan(indices, origins, tuple(notes), dropped)


def check_no_group_leaks(indices: dict[str, np.ndarray], groups: np.ndarray) -> None:
    """Refuse a plan in which a group has rows in two splits."""
    names = list(indices)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = np.intersect1d(groups[indices[a]], groups[indices[b]])
            if shared.size:
                raise FerLabError(
                    f"the {a} and {b} splits share {shared.size} groups ({', '.join(shared[:5])}): "
                    "one group's images must stay on one side; check data.group_pattern"
                )


def group_folds(labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold (0..folds-1) of every row: whole groups dealt into seeded folds with similar class shares."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise FerLabError(
            f"all {len(labels)} images fall into one group: splitting needs at least 2; check that "
            "data.group_pattern's first group names the person or session"
        )
    if folds > n_groups:
        raise FerLabError(
            f"data.folds={folds} is more than the {n_groups} groups in the data: every fold needs "
            f"at least one group; use data.folds <= {n_groups}"
        )
    largest = int(np.bincount(labels).max())
    if folds > largest:
        raise FerLabError(
            f"data.folds={folds} is more than the {largest} images of the largest class: stratified "
            f"folds need a class with one image per fold; use data.folds <= {largest}"
        )
    fold = np.empty(len(labels), np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes rarer than the fold count are dealt as they can be
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (_, rows) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
            fold[rows] = k
    return fold


def group_sample(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted positions of whole groups holding about `fraction` of the rows (at least one group of few), with
    similar class shares."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise FerLabError(
            f"{n_groups} group in the training folds: validation needs a group of its own; "
            "add groups or lower data.folds"
        )
    parts = max(2, min(round(1 / fraction), n_groups))
    return np.flatnonzero(group_folds(labels, groups, parts, seed) == 0)


def few_shot(rows: np.ndarray, labels: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """`shots` seeded rows of each class among `rows` (sorted)."""
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels[rows]):
        of_class = rows[labels[rows] == c]
        if of_class.size < shots:
            raise FerLabError(
                f"data.shots_per_class={shots} but class number {c} has only {of_class.size} training "
                "images in this split; lower data.shots_per_class"
            )
        picked.append(rng.choice(of_class, shots, replace=False))
    return np.sort(np.concatenate(picked))


def stratified_sample(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of round(fraction * n) rows, allocated to classes in proportion.

    Each class gets floor(fraction * n_c) rows; the remaining rows go to the classes with the largest
    remainders, so small datasets still get a validation split.
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = fraction * counts
    take = np.floor(exact).astype(np.int64)
    extra = round(fraction * labels.size) - int(take.sum())
    take[np.argsort(take - exact, kind="stable")[:extra]] += 1
    if not take.sum():
        raise FerLabError(
            f"a {fraction:g} validation fraction of {labels.size} Training images is empty; "
            "raise data.val_fraction or add images"
        )
    picked = [rng.choice(np.flatnonzero(labels == c), n, replace=False) for c, n in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked))


def image_ids(*arrays: np.ndarray) -> list[np.ndarray]:
    """Exact-content ids: equal ids iff equal pixels, consistent across all given image arrays."""
    flat = np.concatenate([a.reshape(len(a), -1) for a in arrays])
    flat = np.ascontiguousarray(flat)
    rows = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).ravel()
    _, ids = np.unique(rows, return_inverse=True)
    return np.split(ids.ravel(), np.cumsum([len(a) for a in arrays])[:-1])
