"""model.init_from: weights copied from a trained model, the head kept or rebuilt, two-phase fine-tuning."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from mlflow import MlflowClient
from test_data_class_folders import PATTERN, make_people

from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS
from fer_lab.models import build_model
from fer_lab.training import run as train_run
from fer_lab.training.fit import plan_phases
from fer_lab.training.init_from import initialize_from

MINE = ("angry", "happy", "sad", "contempt")


@pytest.fixture
def source(compose_train, tmp_path):
    """A cnn_tiny with random non-default weights, trained for the 7 FER-2013 classes, saved as .keras."""
    cfg = compose_train("model=cnn_tiny")
    model = build_model(cfg.model, None, input_shape=(48, 48, 1), num_classes=7)
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.normal(0, 0.1, w.shape).astype("float32") + (1.0 if "variance" in w.path else 0.0))
    path = tmp_path / "source.keras"
    model.save(path)
    return model, path, cfg


def target(cfg, classes) -> keras.Model:
    return build_model(cfg.model, None, input_shape=(48, 48, 1), num_classes=len(classes))


def weighted(model, skip=("predictions",)) -> dict[str, list[np.ndarray]]:
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights and layer.name not in skip}


def test_the_body_equals_the_source_before_training_and_another_label_set_gets_a_new_head(source):
    model, path, cfg = source
    fresh = target(cfg, MINE)
    said = initialize_from(fresh, str(path), MINE)
    assert "head rebuilt" in said
    mine, theirs = weighted(fresh), weighted(model)
    assert mine.keys() == theirs.keys() and len(mine) >= 4
    for name in mine:
        for a, b in zip(mine[name], theirs[name], strict=True):
            np.testing.assert_array_equal(a, b)
    assert fresh.get_layer("predictions").get_weights()[0].shape[1] == 4


def test_the_same_classes_in_another_order_keep_the_head_reordered(source):
    model, path, cfg = source
    order = tuple(reversed(EMOTIONS))
    fresh = target(cfg, order)
    assert "reordered" in initialize_from(fresh, str(path), order)
    x = np.random.default_rng(1).uniform(0, 255, (3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0)[:, ::-1], atol=1e-5)
    same = target(cfg, EMOTIONS)
    assert initialize_from(same, str(path), EMOTIONS).endswith("head kept")


def test_a_missing_model_or_another_architecture_is_one_clear_error(source, compose_train, tmp_path):
    _, path, _ = source
    with pytest.raises(FerLabError, match=r"model.init_from=.*missing.keras.*not found"):
        initialize_from(target(source[2], MINE), str(tmp_path / "missing.keras"), MINE)
    other = build_model(compose_train("model=cnn_3block").model, None, input_shape=(48, 48, 1), num_classes=4)
    with pytest.raises(FerLabError, match=r"do not fit this model=cnn_3block.*model=source"):
        initialize_from(other, str(path), MINE)


def test_batchnorm_trains_from_scratch_and_in_fine_tuning_only_when_asked(source, compose_train):
    _, path, _ = source
    scratch = compose_train("model=cnn_tiny")
    assert [(p.name, p.train_batchnorm) for p in plan_phases(scratch, target(scratch, MINE))] == [("train", True)]
    for asked in (False, True):
        cfg = compose_train("model=cnn_tiny", f"model.init_from={path}", f"model.fine_tune.train_batchnorm={asked}")
        phases = plan_phases(cfg, target(cfg, MINE))
        assert [(p.name, p.train_batchnorm) for p in phases] == [("head", False), ("finetune", asked)]


def test_init_from_trains_the_head_first_then_fine_tunes_on_your_own_classes(
    source, state_root, compose_train, tmp_path
):
    _, path, _ = source
    people = make_people(tmp_path / "people", subjects=12, frames=2, size=48)
    overrides = (
        "data=class_folders",
        f"data.path={people}",
        f"data.group_pattern='{PATTERN}'",
        "data.class_map=[anger:angry,sadness:sad]",
        "data.folds=4",
        "data.val_fraction=0.25",
        "model=cnn_tiny",
        f"model.init_from={path}",
        "model.fine_tune.head_epochs=1",
        "augmentation=none",
        "trainer.epochs=2",
        "trainer.batch_size=8",
        "evaluation.sample_grid=0",
        "task_name=ft",
        "mlflow.registered_model_name=ft",
    )
    cfg = compose_train(*overrides)
    assert [p.name for p in plan_phases(cfg, target(cfg, MINE))] == ["head", "finetune"]
    summary = train_run.run_training(cfg, overrides=list(overrides))
    run = MlflowClient().get_run(summary.run_id)
    assert run.info.status == "FINISHED" and run.data.params["model.init_from"] == str(path)
    assert "val_accuracy" in run.data.metrics
    from fer_lab.tracking.model_io import load_logged_model

    _, meta = load_logged_model("models:/ft@champion")
    assert meta.class_names == ("angry", "happy", "sad", "contempt")
