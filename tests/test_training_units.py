"""Class weights, optimizers, LR schedules, mixup batches, the checkpoint key and best-weight loading."""

import itertools
import re
import warnings

import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from fer_lab.training.batches import MixupBatches
from fer_lab.training.checkpoint import CheckpointStore, config_key
from fer_lab.training.class_weights import class_weights
from fer_lab.training.schedules import budget_cosine_lr, cosine_lr


@pytest.mark.parametrize("mode", ["balanced", "effective_number"])
def test_weights_favour_rare_classes_and_average_one_per_sample(mode):
    labels = np.array([0] * 800 + [1] * 200)
    w = class_weights(labels, 2, mode)
    assert w[1] > w[0]
    assert w[labels].mean() == pytest.approx(1.0)
    if mode == "balanced":
        assert w[1] == pytest.approx(4 * w[0])


def test_effective_number_is_between_none_and_balanced():
    labels = np.array([0] * 900 + [1] * 100)
    eff = class_weights(labels, 2, "effective_number", beta=0.999)
    bal = class_weights(labels, 2, "balanced")
    assert 1.0 < eff[1] / eff[0] < bal[1] / bal[0]


def test_absent_class_gets_zero_weight_and_none_mode_is_none():
    assert class_weights(np.array([0, 0, 2]), 3, "balanced")[1] == 0
    assert class_weights(np.array([0, 1]), 2, "none") is None


def test_cosine_warms_up_then_decays_to_floor():
    lrs = [cosine_lr(e, 1.0, 10, 2, 0.01) for e in range(10)]
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(lrs[2:]))
    assert lrs[-1] == pytest.approx(0.01)


def test_budget_cosine_warms_up_then_decays_to_floor_when_the_budget_is_spent():
    lrs = [budget_cosine_lr(u, 1.0, 0.1, 0.01) for u in np.linspace(0, 1, 21)]
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(lrs[2:]))
    assert lrs[-1] == pytest.approx(0.01) == budget_cosine_lr(1.5, 1.0, 0.1, 0.01)


def test_budget_cosine_follows_the_time_already_spent_by_a_resumed_run():
    import keras

    from fer_lab.training.callbacks import TimeBudget
    from fer_lab.training.schedules import BudgetCosine

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
    x, y = np.zeros((32, 4), "float32"), np.tile(np.eye(2, dtype="float32"), (16, 1))
    budget = TimeBudget(minutes=10, spent_seconds=300)  # half of the budget spent before this process
    model.fit(x, y, epochs=1, verbose=0, callbacks=[budget, BudgetCosine(budget, 1.0, 0.05, 0.0)])
    lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert lr == pytest.approx(budget_cosine_lr(0.5, 1.0, 0.05, 0.0), abs=0.01)  # ~0.54, not the warmup's


def test_mixup_blends_images_labels_and_weights():
    x = np.stack([np.zeros((4, 4, 1)), np.full((4, 4, 1), 200)] * 8).astype("uint8")
    y = np.tile(np.eye(2, dtype="float32"), (8, 1))
    batches = MixupBatches(x, y, batch_size=8, alpha=0.4, class_weights=np.array([1.0, 3.0], "float32"), seed=0)
    assert len(batches) == 2
    bx, by, bw = batches[0]
    assert bx.shape == (8, 4, 4, 1) and np.allclose(by.sum(axis=1), 1)
    # pixel value follows the label mix: image = 200 * P(class 1)
    assert np.allclose(bx[:, 0, 0, 0], 200 * by[:, 1], atol=1e-3)
    assert np.allclose(bw, by @ np.array([1.0, 3.0]))


def test_config_key_ignores_resume_and_verbosity_only():
    base = OmegaConf.create({"trainer": {"epochs": 3, "resume": True, "verbose": "auto"}, "mlflow": {}})
    same = OmegaConf.create({"trainer": {"epochs": 3, "resume": False, "verbose": 2}, "mlflow": {}})
    other = OmegaConf.create({"trainer": {"epochs": 4, "resume": True, "verbose": "auto"}, "mlflow": {}})
    assert config_key(base) == config_key(same) != config_key(other)


def test_time_budget_stops_before_an_epoch_would_overrun_it():
    import keras

    from fer_lab.training.callbacks import TimeBudget

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    x, y = np.zeros((32, 4), "float32"), np.tile(np.eye(2, dtype="float32"), (16, 1))
    budget = TimeBudget(minutes=1e-6)
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[budget])
    assert len(history.history["loss"]) == 1 and budget.stopped_at == 1
    generous = TimeBudget(minutes=10)
    assert len(model.fit(x, y, epochs=3, verbose=0, callbacks=[generous]).history["loss"]) == 3
    assert generous.stopped_at is None
    spent = TimeBudget(minutes=1, spent_seconds=60)  # a resumed run whose budget earlier processes used up
    assert len(model.fit(x, y, epochs=3, verbose=0, callbacks=[spent]).history["loss"]) == 1


@pytest.mark.parametrize(
    "option, overrides, expected",
    [
        ("adam", [], "Adam"),
        ("adam", ["optimizer.weight_decay=1e-4"], "AdamW"),
        ("sgd_nesterov", [], "SGD"),
    ],
)
def test_each_optimizer_config_builds_its_optimizer(compose_train, option, overrides, expected):
    import keras

    from fer_lab.training.optimizers import make_optimizer

    cfg = compose_train(f"optimizer={option}", *overrides)
    optimizer = make_optimizer(cfg.optimizer, 0.02)
    assert type(optimizer).__name__ == expected
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.02)
    if expected == "SGD":
        assert optimizer.nesterov and optimizer.momentum == 0.9


@pytest.mark.parametrize(
    "option, callback",
    [
        ("plateau", "ReduceLROnPlateau"),
        ("cosine", "LearningRateScheduler"),
        ("cosine_budget", "BudgetCosine"),
        ("constant", None),
    ],
)
def test_each_schedule_config_builds_its_callbacks(compose_train, option, callback):
    from fer_lab.training.callbacks import TimeBudget
    from fer_lab.training.schedules import schedule_callbacks

    cfg = compose_train(f"schedule={option}")
    callbacks = schedule_callbacks(cfg.schedule, 0.01, 10, "val_loss", TimeBudget(5.0))
    assert [type(c).__name__ for c in callbacks] == ([callback] if callback else [])


def test_unknown_optimizer_and_schedule_names_and_a_missing_time_budget_are_clear_errors(compose_train):
    from fer_lab.errors import FerLabError
    from fer_lab.training.optimizers import make_optimizer
    from fer_lab.training.schedules import check_schedule, schedule_callbacks

    with pytest.raises(FerLabError, match=re.escape("unknown optimizer.name='rmsprop': choose one of adam | sgd")):
        make_optimizer(OmegaConf.create({"name": "rmsprop"}), 0.01)
    with pytest.raises(FerLabError, match=r"unknown schedule\.name='step'"):
        schedule_callbacks(OmegaConf.create({"name": "step"}), 0.01, 10, "val_loss")
    with pytest.raises(FerLabError, match=r"schedule=cosine_budget needs a time budget: set trainer\.max_minutes"):
        check_schedule(compose_train("schedule=cosine_budget"))
    check_schedule(compose_train("schedule=cosine_budget", "trainer.max_minutes=5"))


def test_init_seed_changes_the_weights_but_not_the_validation_rows(compose_train):
    from fer_lab.data import load_dataset
    from fer_lab.models import build_model
    from fer_lab.training.seeding import seed_everything, training_seed

    def seeded(*overrides):
        cfg = compose_train("data=synthetic", "data.samples_per_class=12", "model=cnn_tiny", *overrides)
        seed_everything(training_seed(cfg), deterministic=False)
        data = load_dataset(cfg.data, seed=cfg.seed)
        model = build_model(
            cfg.model, cfg.augmentation, input_shape=data.train.x.shape[1:], num_classes=len(data.class_names)
        )
        return data.val.x, model.get_weights()[0]

    val, weights = seeded()
    _same_val, same_weights = seeded("trainer.init_seed=42")
    other_val, other_weights = seeded("trainer.init_seed=7")
    np.testing.assert_array_equal(weights, same_weights)
    np.testing.assert_array_equal(val, other_val)
    assert not np.allclose(weights, other_weights)


def test_best_weights_of_a_head_phase_load_into_the_fine_tune_model_quietly(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(8, 4)).astype("float32"), np.arange(8) % 2
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="body"), keras.layers.Dense(2)])
    model.get_layer("body").trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    store = CheckpointStore(tmp_path)
    model.save_weights(store.best_path)  # the head phase's best: an optimizer with the head's slots only
    best = [w.copy() for w in model.get_weights()]
    model.get_layer("body").trainable = True
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.load_best(model)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), best, strict=True))


def test_a_fit_without_a_finished_epoch_has_no_best_epoch_to_report():
    from fer_lab.errors import FerLabError
    from fer_lab.training.checkpoint import RunState
    from fer_lab.training.fit import FitResult

    result = FitResult(model=None, state=RunState(), resumed_at=None, epoch_seconds=(), images_per_second=0.0)
    with pytest.raises(FerLabError, match="no epoch finished"):
        _ = result.best_epoch
    assert FitResult(None, RunState(best_epoch=4), None, (), 0.0).best_epoch == 4


def test_a_hypermodel_without_data_refuses_to_run_trials(compose_train, tmp_path):
    from fer_lab.tuning.hypermodel import FerHyperModel

    chief_side = FerHyperModel(compose_train("model=cnn_tiny"), [], None, tmp_path)
    with pytest.raises(RuntimeError, match="no data"):
        _ = chief_side.trial_data
