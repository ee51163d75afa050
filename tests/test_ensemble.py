"""python -m fer_lab.ensemble: the mean of the members' outputs, logged, registered, promoted on val only."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from conftest import copy_store
from mlflow import MlflowClient

from fer_lab.ensemble import build_and_log_ensemble
from fer_lab.errors import FerLabError
from fer_lab.training import run as train_run

TINY = (
    "data=synthetic",
    "data.samples_per_class=12",
    "model=cnn_tiny",
    "augmentation=light",
    "trainer.epochs=1",
    "trainer.batch_size=16",
    "evaluation.sample_grid=0",
    "evaluation.tta=none",
    "task_name=ens",
    "mlflow.registered_model_name=ens",
    "mlflow.promote=never",
)


@pytest.fixture(scope="module")
def trained_members(module_root, compose_train) -> Path:
    """Two tiny models of different architectures, trained once for the module: `ens` versions 1 and 2."""
    for extra in (("model.input_crop=44",), ("model=cnn_3block",)):
        train_run.run_training(compose_train(*TINY, *extra))
    return module_root


@pytest.fixture
def two_members(trained_members, state_root):
    """The two members, registered in this test's own store."""
    copy_store(trained_members, state_root)
    return ["models:/ens/1", "models:/ens/2"]


def ensemble_cfg(compose_train, members, *extra):
    return compose_train(
        "data=synthetic",
        "data.samples_per_class=12",
        f"members=[{','.join(members)}]",
        "evaluation.tta=none",
        "mlflow.registered_model_name=ens",
        *extra,
        config_name="ensemble",
    )


def test_the_ensemble_is_the_mean_of_its_members_and_round_trips_through_the_registry(two_members, compose_train):
    summary = build_and_log_ensemble(ensemble_cfg(compose_train, two_members))
    assert summary.version == "3" and not summary.promoted  # validated on synthetic faces
    x = np.random.default_rng(0).uniform(0, 255, (5, 48, 48, 1)).astype("float32")
    members = [mlflow.keras.load_model(uri).predict(x, verbose=0) for uri in two_members]
    ensemble = mlflow.keras.load_model("models:/ens/3").predict(x, verbose=0)
    np.testing.assert_allclose(ensemble, np.mean(members, axis=0), atol=1e-6)
    run = MlflowClient().get_run(summary.run_id)
    assert run.data.tags["fer_lab.ensemble_members"] == " ".join(two_members)
    assert {"val_accuracy", "test_accuracy", "members_train_minutes"} <= set(run.data.metrics)
    from fer_lab.tracking.model_io import load_logged_model

    assert load_logged_model("models:/ens/3")[1].model_name == "ensemble"


def test_ten_crop_tta_of_an_ensemble_is_the_mean_of_its_members_each_on_its_own_crops(two_members, compose_train):
    from fer_lab.evaluation.tta import forward_with_tta, predict_with_tta

    build_and_log_ensemble(ensemble_cfg(compose_train, two_members))
    x = np.random.default_rng(1).uniform(0, 255, (6, 48, 48, 1)).astype("float32")
    members = [mlflow.keras.load_model(uri) for uri in two_members]  # 44-px input crop, and whole 48-px images
    ensemble = mlflow.keras.load_model("models:/ens/3")
    expected = np.mean([predict_with_tta(m, x, "crops") for m in members], axis=0)
    np.testing.assert_allclose(predict_with_tta(ensemble, x, "crops"), expected, atol=1e-5)
    np.testing.assert_allclose(forward_with_tta(ensemble, x, "crops"), expected, atol=1e-5)  # the live path


def test_member_minutes_count_a_bundled_card_and_a_distilled_members_teacher(two_members, tiny_bundled, compose_train):
    client = MlflowClient()
    first_run_id = client.get_model_version("ens", "1").run_id
    client.log_metric(first_run_id, "teacher_seconds", 60.0)  # as a distilled run logs its teacher's scoring
    summary = build_and_log_ensemble(ensemble_cfg(compose_train, [two_members[0], "bundled"]))
    first = client.get_run(first_run_id)
    assert summary.members_train_minutes == pytest.approx(first.data.metrics["train_seconds"] / 60 + 1.0 + 2.5)
    run = client.get_run(summary.run_id)
    assert run.data.tags["fer_lab.ensemble_member_runs"] == f"{first.info.run_id} 0123abcd"


def test_members_that_do_not_fit_together_are_one_clear_error(two_members, compose_train, state_root):
    train_run.run_training(compose_train(*TINY, "data.image_size=32", "model=cnn_tiny"))
    with pytest.raises(FerLabError, match="same classes in the same order and the same image size"):
        build_and_log_ensemble(ensemble_cfg(compose_train, [two_members[0], "models:/ens/3"]))
    with pytest.raises(FerLabError, match="at least 2 models"):
        build_and_log_ensemble(ensemble_cfg(compose_train, two_members[:1]))
    with pytest.raises(FerLabError, match="cannot load model models:/ens/9"):
        build_and_log_ensemble(ensemble_cfg(compose_train, [two_members[0], "models:/ens/9"]))
