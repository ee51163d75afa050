"""optimizer.ema_momentum: the exponential moving average of the weights is what is validated and checkpointed."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer_lab.data import load_dataset
from fer_lab.errors import FerLabError
from fer_lab.models import build_model
from fer_lab.training.checkpoint import CheckpointStore, RunState
from fer_lab.training.fit import fit_resumable
from fer_lab.training.optimizers import make_optimizer


class _Probe(keras.callbacks.Callback):
    """After checkpointing: the model's weights, the raw weights the optimizer holds, and the val accuracy."""

    def __init__(self):
        super().__init__()
        self.model_weights, self.raw_weights, self.val = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.model_weights.append([v.numpy().copy() for v in self.model.trainable_variables])
        self.raw_weights.append([v.numpy().copy() for v in self.model.optimizer._model_variables_moving_average])
        self.val.append(logs["val_accuracy"])


def test_ema_weights_differ_from_the_raw_ones_and_are_validated_and_kept(compose_train, state_root, tmp_path):
    cfg = compose_train(
        "data=synthetic",
        "data.samples_per_class=20",
        "model=cnn_tiny",
        "augmentation=none",
        "trainer.epochs=3",
        "trainer.batch_size=16",
        "trainer.verbose=0",
        "trainer.early_stopping_patience=0",
        "optimizer.ema_momentum=0.9",
    )
    data = load_dataset(cfg.data, seed=0)
    model = build_model(cfg.model, cfg.augmentation, input_shape=data.train.x.shape[1:], num_classes=7)
    store = CheckpointStore(tmp_path / "ckpt")
    store.folder.mkdir()
    probe = _Probe()
    result = fit_resumable(model, data, cfg, store, RunState(), [probe])
    best = result.state.best_epoch
    for ema, raw in zip(
        probe.model_weights[:-1], probe.raw_weights[:-1], strict=True
    ):  # after the last, Keras keeps the average
        assert any(not np.allclose(a, b) for a, b in zip(ema, raw, strict=True)), (
            "the averaged weights are not the raw ones"
        )
    for kept, ema in zip(result.model.trainable_variables, probe.model_weights[best], strict=True):
        np.testing.assert_array_equal(kept.numpy(), ema)  # the best epoch's averaged weights are the result
    result.model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    accuracy = result.model.evaluate(data.val.x, data.val.y, verbose=0)[1]
    assert accuracy == pytest.approx(probe.val[best], abs=1e-6)  # and the ones validated


def test_a_momentum_outside_0_1_is_refused(compose_train):
    cfg = compose_train("optimizer.ema_momentum=1.5")
    with pytest.raises(FerLabError, match=r"optimizer\.ema_momentum"):
        make_optimizer(cfg.optimizer, 0.001)
