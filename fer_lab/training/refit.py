"""evaluation.refit=true: after cross-validation, the model to deploy, trained on every fold of data=class_folders.

The refit trains as each fold did (trainer.epochs, early stopping, the checkpoint kept by trainer.monitor) on the
images of every fold except a data.val_fraction share of each fold's groups, held out as its validation split: its
checkpoint and its comparison with the champion use groups it never trained on. Training on every image instead
would leave no validation data, which the checkpoint choice needs. It has no test split; the cross-validation's
cv_test_* metrics estimate how it does on new groups.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from omegaconf import DictConfig

from fer_lab.config import resolved_copy
from fer_lab.data.class_folders import ClassFoldersConfig, load_class_folders
from fer_lab.data.sources import DATA_SOURCES, RawImages
from fer_lab.data.splits import TestSplit, ValFrom, group_folds, group_sample
from fer_lab.errors import FerLabError

ALL_FOLDS = "class_folders_all_folds"  # data.source of the refit: the class folders with no test fold


@dataclass
class AllFoldsConfig(ClassFoldersConfig):
    """data=class_folders with every fold in training and a share of each fold's groups for validation."""

    source: str = ALL_FOLDS
    val_from: ValFrom = ValFrom.public_test  # the rows load_all_folds marks PublicTest
    test_split: TestSplit | None = TestSplit.none


@DATA_SOURCES.register(ALL_FOLDS, AllFoldsConfig)
def load_all_folds(cfg: DictConfig, seed: int) -> RawImages:
    """The class folders with data.val_fraction of every fold's groups (stratified, seeded) marked PublicTest, the
    validation rows, and the rest Training."""
    raw = load_class_folders(cfg, seed)
    assert raw.groups is not None  # class folders always have groups
    folds, fraction = int(cfg.folds), float(cfg.val_fraction)
    fold = group_folds(raw.labels, raw.groups, folds, seed)
    val = np.zeros(len(fold), bool)
    for k in range(folds):
        rows = np.flatnonzero(fold == k)
        if len(np.unique(raw.groups[rows])) < 2:
            raise FerLabError(
                f"evaluation.refit=true validates on a share of every fold's groups, but fold {k} of data.folds="
                f"{folds} holds one group: lower data.folds, or set evaluation.refit=false"
            )
        val[rows[group_sample(raw.labels[rows], raw.groups[rows], fraction, seed)]] = True
    share = f"{fraction * 100:g}% of the groups of each of the {folds} folds"
    names = {"Training": f"all {folds} folds minus validation", "PublicTest": f"stratified {share}"}
    return replace(raw, usage=np.where(val, "PublicTest", "Training"), usage_names=names)


def refit_config(cfg: DictConfig, name: str) -> DictConfig:
    """cfg on every fold (data.source=ALL_FOLDS), its run named `<name>-refit`, registered as cfg says."""
    refit = resolved_copy(cfg)
    refit.data.source = ALL_FOLDS
    refit.mlflow.run_name = f"{name}-refit"
    return refit
