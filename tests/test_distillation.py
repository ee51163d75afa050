"""training.teacher: the student learns the teacher's softened outputs on the training images; val keeps labels."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest

from fer_lab.data import load_dataset
from fer_lab.errors import FerLabError
from fer_lab.evaluation.tta import predict_with_tta
from fer_lab.models import build_model
from fer_lab.training import run as train_run
from fer_lab.training.distillation import soften, with_teacher_targets

TINY = (
    "data=synthetic",
    "data.samples_per_class=20",
    "model=cnn_tiny",
    "augmentation=none",
    "trainer.batch_size=16",
    "trainer.early_stopping_patience=0",
    "evaluation.sample_grid=0",
    "evaluation.tta=none",
    "evaluation.unseen_test=false",
    "training.class_weight=none",
    "task_name=kd",
    "mlflow.registered_model_name=kd",
)


@pytest.fixture
def teacher(compose_train, tmp_path):
    """A fixed 7-class teacher with random weights whose outputs are far from the labels, saved as .keras."""
    import keras

    model = build_model(compose_train("model=cnn_tiny").model, None, (48, 48, 1), 7)
    rng = np.random.default_rng(1)
    for w in model.trainable_weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32"))
    path = tmp_path / "teacher.keras"
    model.save(path)
    return keras.saving.load_model(path), path


def test_soften_keeps_the_order_and_flattens_with_the_temperature():
    p = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_allclose(soften(p, 1.0), p, atol=1e-6)
    soft = soften(p, 3.0)
    assert soft.argmax() == 0 and soft.max() < 0.7 and soft.sum() == pytest.approx(1.0)


def test_train_targets_mix_labels_and_teacher_and_val_keeps_its_labels(teacher, compose_train, state_root):
    model, path = teacher
    cfg = compose_train(
        *TINY, f"training.teacher={path}", "training.distill_weight=0.4", "training.distill_temperature=2"
    )
    data = load_dataset(cfg.data, seed=0)
    mixed = with_teacher_targets(data, cfg)
    expected = 0.6 * data.train.y + 0.4 * soften(predict_with_tta(model, data.train.x, "flip"), 2.0)
    np.testing.assert_allclose(mixed.data.train.y, expected, atol=1e-5)
    assert mixed.data.val.fingerprint() == data.val.fingerprint() and "distilling from" in mixed.line
    assert mixed.teacher_seconds > 0
    again = with_teacher_targets(data, cfg)
    assert "loaded from cache" in again.line and np.array_equal(again.data.train.y, mixed.data.train.y)
    assert again.teacher_seconds == mixed.teacher_seconds, "a cache hit keeps the scoring time it cost"


def test_a_distilled_student_moves_towards_the_teacher(teacher, compose_train, state_root):
    model, path = teacher

    def kl_to_teacher(*overrides: str) -> float:
        cfg = compose_train(*TINY, "trainer.epochs=6", *overrides)
        summary = train_run.run_training(cfg)
        logged = mlflow.MlflowClient(summary.tracking_uri).get_run(summary.run_id).data.metrics
        assert ("teacher_seconds" in logged) == bool(cfg.training.teacher), "a distilled run logs its teacher's time"
        student = summary.fit.model
        x = load_dataset(cfg.data, seed=0).train.x
        p, q = predict_with_tta(model, x), np.clip(predict_with_tta(student, x), 1e-8, 1)
        return float(np.mean(np.sum(p * (np.log(np.clip(p, 1e-8, 1)) - np.log(q)), axis=1)))

    alone = kl_to_teacher()
    distilled = kl_to_teacher(
        f"training.teacher={path}",
        "training.distill_weight=0.5",
        "training.distill_temperature=1",
        "training.teacher_tta=none",
    )
    assert distilled < 0.8 * alone


def test_a_missing_teacher_or_one_for_other_classes_is_one_clear_error(compose_train, state_root, tmp_path, teacher):
    cfg = compose_train(*TINY, f"training.teacher={tmp_path / 'nope.keras'}")
    data = load_dataset(cfg.data, seed=0)
    with pytest.raises(FerLabError, match=r"training\.teacher=.*nope\.keras.*not found"):
        with_teacher_targets(data, cfg)
    other = build_model(compose_train("model=cnn_tiny").model, None, (48, 48, 1), 3)
    other.save(tmp_path / "three.keras")
    three = compose_train(*TINY, f"training.teacher={tmp_path / 'three.keras'}")
    with pytest.raises(FerLabError, match="has 3 outputs but 7 class names"):
        with_teacher_targets(data, three)
    with pytest.raises(FerLabError, match=r"training\.distill_weight"):
        with_teacher_targets(
            data, compose_train(*TINY, f"training.teacher={teacher[1]}", "training.distill_weight=0.9")
        )
