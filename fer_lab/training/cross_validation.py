"""evaluation.cross_validate=true: train once per fold of data.folds (fold k the test split, validation from the
others), each as a child of one parent MLflow run that logs mean +- std over folds and the confusion matrix
summed over folds. Fold models are not registered. Rerunning the command after an interruption continues the
unfinished folds under the same parent run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from fer_lab.config import resolved_copy
from fer_lab.errors import FerLabError
from fer_lab.evaluation.folds import FoldScore, FoldSummary
from fer_lab.tracking import configure_tracking
from fer_lab.tracking.parent_runs import ROLE_TAG, parent_run
from fer_lab.training.checkpoint import CheckpointStore
from fer_lab.training.run import run_training

FOLD_TAG = "fer_lab.fold"
STATE_FILE = "cross_validation.json"


@dataclass(frozen=True)
class CrossValidation:
    parent_run_id: str
    child_run_ids: tuple[str, ...]
    summaries: dict[str, FoldSummary]  # "val", "test"


def cross_validate(cfg: DictConfig, overrides: Sequence[str] = (), parent_run_id: str | None = None) -> CrossValidation:
    """Train `cfg` on every fold of its data and summarise the folds' val and test scores."""
    folds = int(cfg.data.get("folds") or 0)
    if folds < 2:
        raise FerLabError(
            "evaluation.cross_validate=true needs a dataset split into folds (data=class_folders with data.folds >= 2)"
        )
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    state_path = CheckpointStore.for_config(cfg).folder / STATE_FILE
    state = _load(state_path) if cfg.trainer.resume else {}
    name = cfg.mlflow.run_name or f"cv-{cfg.model.name}-{Path(str(cfg.data.path)).name}"
    with parent_run(
        str(cfg.mlflow.experiment),
        tracking_uri,
        name,
        {ROLE_TAG: "cross_validation"},
        cfg,
        resume_run_id=state.get("parent"),
        parent_run_id=parent_run_id,
    ) as parent:
        done: dict = state.get("folds", {}) if state.get("parent") == parent else {}
        for k in range(folds):
            if str(k) in done:
                print(f"fer_lab: fold {k} of {folds} finished before (run {done[str(k)]['run_id']})", flush=True)
                continue
            print(f"fer_lab: fold {k} of {folds}", flush=True)
            summary = run_training(_fold_config(cfg, k, name), [*overrides, f"data.test_fold={k}"], parent)
            from mlflow import MlflowClient

            MlflowClient().set_tag(summary.run_id, FOLD_TAG, str(k))
            done[str(k)] = {
                "run_id": summary.run_id,
                "tta": summary.reports["val"].tta,
                "class_names": list(summary.reports["val"].per_class),
                **{s: FoldScore.of(r).to_dict() for s, r in summary.reports.items()},
            }
            _save(state_path, {"parent": parent, "folds": done})
        result = _summarise(parent, done, folds)
    state_path.unlink(missing_ok=True)
    for fold_summary in result.summaries.values():
        print(f"fer_lab: {fold_summary.summary()}")
    print(f"fer_lab: cross-validation parent run {parent} with {folds} fold runs (browse with `make ui`)")
    return result


def _fold_config(cfg: DictConfig, fold: int, name: str) -> DictConfig:
    """cfg with fold `fold` as the test split, not registered, named after the fold."""
    fold_cfg = resolved_copy(cfg)
    fold_cfg.data.test_fold = fold
    fold_cfg.mlflow.registered_model_name = ""
    fold_cfg.mlflow.run_name = f"{name}-fold{fold}"
    return fold_cfg


def _summarise(parent: str, done: dict, folds: int) -> CrossValidation:
    from mlflow import MlflowClient

    ordered = [done[str(k)] for k in range(folds)]
    class_names = tuple(ordered[0]["class_names"])
    summaries = {
        split: FoldSummary(split, class_names, tuple(FoldScore.from_dict(f[split]) for f in ordered), ordered[0]["tta"])
        for split in ("val", "test")
    }
    for summary in summaries.values():
        summary.log(parent)
    MlflowClient().log_metric(parent, "cv_folds", float(folds))
    return CrossValidation(parent, tuple(f["run_id"] for f in ordered), summaries)


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        return {}


def _save(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)
