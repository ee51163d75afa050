"""evaluation.cross_validate=true: train once per fold of data.folds (fold k the test split, validation from the
others), each as a child of one parent MLflow run that logs mean +- std over folds and the confusion matrix
summed over folds. Fold models are not registered; evaluation.refit=true then trains the model to register on
every fold (fer_lab.training.refit) as one more child run. Rerunning the command after an interruption continues
the unfinished folds and refit under the same parent run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from omegaconf import DictConfig

from fer_lab.config import registered_model_name, resolved_copy
from fer_lab.data import load_dataset
from fer_lab.errors import FerLabError
from fer_lab.evaluation.folds import FoldScore, FoldSummary
from fer_lab.tracking import configure_tracking
from fer_lab.tracking.parent_runs import ROLE_TAG, parent_run
from fer_lab.training.checkpoint import CheckpointStore
from fer_lab.training.refit import ALL_FOLDS, refit_config
from fer_lab.training.run import run_training

FOLD_TAG = "fer_lab.fold"  # on a child run: its test fold, or ALL for the refit
ALL = "all"
REFIT_RUN_TAG = "fer_lab.refit_run"  # on the parent: the refit's run id
REFIT_MODEL_TAG = "fer_lab.refit_model"  # on the parent: the refit's registered version, models:/<name>/<version>
STATE_FILE = "cross_validation.json"


@dataclass(frozen=True)
class CrossValidation:
    parent_run_id: str
    child_run_ids: tuple[str, ...]
    summaries: dict[str, FoldSummary]  # "val", "test"
    refit_run_id: str | None = None  # evaluation.refit=true: the run of the model trained on every fold
    refit_version: str | None = None  # its registered version (None: not registered)


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
    refit = cfg.evaluation.refit
    if refit:  # data the refit cannot split fails before the folds train
        load_dataset(refit_config(cfg, name).data, seed=cfg.seed)
    with parent_run(
        str(cfg.mlflow.experiment),
        tracking_uri,
        name,
        {ROLE_TAG: "cross_validation"},
        cfg,
        resume_run_id=state.get("parent"),
        parent_run_id=parent_run_id,
    ) as parent:
        same_parent = state.get("parent") == parent
        done: dict = state.get("folds", {}) if same_parent else {}
        refitted: dict | None = state.get("refit") if same_parent else None
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
        if refit and refitted:
            print(f"fer_lab: the refit on all {folds} folds finished before ({_describe(refitted, cfg)})", flush=True)
        elif refit:
            print(f"fer_lab: refit on all {folds} folds", flush=True)
            refitted = _refit(cfg, overrides, parent, name)
            _save(state_path, {"parent": parent, "folds": done, "refit": refitted})
        result = _summarise(parent, done, folds)
    state_path.unlink(missing_ok=True)
    for fold_summary in result.summaries.values():
        print(f"fer_lab: {fold_summary.summary()}")
    if not refitted:
        print(f"fer_lab: cross-validation parent run {parent} with {folds} fold runs (browse with `make ui`)")
        return result
    print(
        f"fer_lab: cross-validation parent run {parent} with {folds} fold runs and a refit on all folds "
        f"({_describe(refitted, cfg)}; browse with `make ui`)"
    )
    return replace(result, refit_run_id=refitted["run_id"], refit_version=refitted["version"])


def _refit(cfg: DictConfig, overrides: Sequence[str], parent: str, name: str) -> dict:
    """Train and register the model on every fold as a child of `parent`, tagged there; its run id and version."""
    from mlflow import MlflowClient

    summary = run_training(refit_config(cfg, name), [*overrides, f"data.source={ALL_FOLDS}"], parent)
    client = MlflowClient()
    client.set_tag(summary.run_id, FOLD_TAG, ALL)
    client.set_tag(parent, REFIT_RUN_TAG, summary.run_id)
    if summary.model_version:
        client.set_tag(parent, REFIT_MODEL_TAG, f"models:/{registered_model_name(cfg)}/{summary.model_version}")
    return {"run_id": summary.run_id, "version": summary.model_version}


def _describe(refitted: dict, cfg: DictConfig) -> str:
    registered = f", registered {registered_model_name(cfg)} version {refitted['version']}"
    return f"run {refitted['run_id']}" + (registered if refitted["version"] else "")


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
