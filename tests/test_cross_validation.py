"""evaluation.cross_validate=true: one parent run, a child per fold, mean +- std, summed confusion, resumable; with
evaluation.refit=true one more child trained on every fold and registered."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow import MlflowClient
from test_data_class_folders import PATTERN, make_people

from fer_lab.data import load_dataset
from fer_lab.data.splits import image_ids
from fer_lab.errors import FerLabError
from fer_lab.tracking.parent_runs import child_runs
from fer_lab.training import cross_validation
from fer_lab.training.refit import ALL_FOLDS, refit_config

FOLDS = 3


@pytest.fixture
def cv_cfg(tmp_path, compose_train):
    people = make_people(tmp_path / "people", subjects=9, frames=2)
    overrides = (
        "data=class_folders",
        f"data.path={people}",
        f"data.group_pattern='{PATTERN}'",
        "data.image_size=16",
        f"data.folds={FOLDS}",
        "data.val_fraction=0.3",
        "data.cache=false",
        "model=cnn_tiny",
        "augmentation=none",
        "trainer.epochs=1",
        "trainer.batch_size=8",
        "evaluation.sample_grid=0",
        "evaluation.tta=none",
        "evaluation.cross_validate=true",
        "evaluation.refit=true",
        "task_name=cv",
        "mlflow.registered_model_name=cv",
    )
    return compose_train(*overrides), list(overrides)


def test_k_folds_and_the_refit_interrupted_resume_what_is_unfinished_and_log_a_parent_with_the_summary(
    state_root, cv_cfg, monkeypatch, capsys
):
    cfg, overrides = cv_cfg
    real, summarise, calls = cross_validation.run_training, cross_validation._summarise, []

    def recorded(run_cfg, *args):
        calls.append("all" if run_cfg.data.source == ALL_FOLDS else int(run_cfg.data.test_fold))
        if len(calls) == 2:
            raise KeyboardInterrupt  # in fold 1
        return real(run_cfg, *args)

    def interrupted(*args):
        raise KeyboardInterrupt  # after the refit

    monkeypatch.setattr(cross_validation, "run_training", recorded)
    with pytest.raises(KeyboardInterrupt):
        cross_validation.cross_validate(cfg, overrides)
    monkeypatch.setattr(cross_validation, "_summarise", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cross_validation.cross_validate(cfg, overrides)
    monkeypatch.setattr(cross_validation, "_summarise", summarise)
    result = cross_validation.cross_validate(cfg, overrides)
    assert calls == [0, 1, 1, 2, "all"], "a finished fold or refit is not trained again"
    client = MlflowClient()
    parent = client.get_run(result.parent_run_id)
    children = [c for c in child_runs(result.parent_run_id) if c.info.run_id in result.child_run_ids]
    assert len(children) == FOLDS and {c.data.tags[cross_validation.FOLD_TAG] for c in children} == {"0", "1", "2"}
    assert all(c.info.status == "FINISHED" for c in children) and parent.info.status == "FINISHED"
    test_accuracies = [client.get_run(r).data.metrics["test_accuracy"] for r in result.child_run_ids]
    metrics = parent.data.metrics
    assert metrics["cv_folds"] == FOLDS
    assert metrics["cv_test_accuracy_mean"] == pytest.approx(np.mean(test_accuracies))
    assert metrics["cv_test_accuracy_std"] == pytest.approx(np.std(test_accuracies))
    assert {"cv_test_macro_f1_mean", "cv_val_accuracy_mean", "cv_val_macro_f1_std"} <= set(metrics)
    low, high = metrics["cv_test_accuracy_ci_low"], metrics["cv_test_accuracy_ci_high"]  # the folds pooled, by person
    assert 0 <= low <= high <= 1
    assert result.summaries["test"].pooled().confusion.sum() == 9 * 2 * 2  # every image tested exactly once
    artifacts = {
        a.path for folder in ("figures", "reports") for a in client.list_artifacts(result.parent_run_id, folder)
    }
    assert {"figures/confusion_cv_test.png", "reports/cv_test.md"} <= artifacts
    out = capsys.readouterr().out
    assert "test over 3 folds (tta=none): accuracy" in out
    (version,) = client.search_model_versions("name = 'cv'")  # fold models are not registered
    assert version.run_id == result.refit_run_id and result.refit_version == str(version.version) == "1"
    refit = client.get_run(result.refit_run_id)
    assert refit.data.tags["mlflow.parentRunId"] == result.parent_run_id and refit.info.status == "FINISHED"
    assert refit.data.tags[cross_validation.FOLD_TAG] == cross_validation.ALL
    assert refit.data.params["data.source"] == ALL_FOLDS
    assert parent.data.tags[cross_validation.REFIT_MODEL_TAG] == "models:/cv/1"
    assert "registered cv version 1, alias champion" in out
    refit_data = load_dataset(refit_config(cfg, "cv").data, seed=cfg.seed)
    assert refit_data.test is None and len(refit_data.train) + len(refit_data.val) == 9 * 2 * 2
    for k in range(FOLDS):  # the refit trains on images of every fold
        fold_test = load_dataset(cross_validation._fold_config(cfg, k, "cv").data, seed=cfg.seed).test
        trained, tested = image_ids(refit_data.train.x, fold_test.x)
        assert np.isin(tested, trained).any(), k


def test_cross_validation_needs_folds(state_root, compose_train):
    cfg = compose_train("data=synthetic", "model=cnn_tiny", "evaluation.cross_validate=true")
    with pytest.raises(FerLabError, match="needs a dataset split into folds"):
        cross_validation.cross_validate(cfg)
