"""Mixed precision: trains in 16-bit compute, registers a float32 model, leaves the global policy as it was."""

from __future__ import annotations

import keras
import mlflow
import numpy as np
from mlflow import MlflowClient

from fer_lab.models import build_model
from fer_lab.training import run as train_run
from fer_lab.training.fit import compile_model
from fer_lab.training.precision import dtype_policy, float32_model

TINY = (
    "data=synthetic",
    "data.samples_per_class=12",
    "model=cnn_tiny",
    "augmentation=light",
    "trainer.batch_size=16",
    "evaluation.sample_grid=4",
    "task_name=precision",
    "mlflow.registered_model_name=precision",
)


def test_float32_copy_keeps_the_weights_and_predicts_like_the_mixed_model(compose_train):
    cfg = compose_train("model=cnn_tiny", "augmentation=light")

    def build():
        return build_model(cfg.model, cfg.augmentation, (48, 48, 1), 7)

    with dtype_policy("mixed_bfloat16"):
        mixed = build()
    assert keras.mixed_precision.dtype_policy().name == "float32", "the previous policy comes back"
    assert mixed.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert mixed.get_layer("predictions").compute_dtype == "float32"
    copy = float32_model(mixed, build)
    assert copy.get_layer("block1_conv1").compute_dtype == "float32"
    for a, b in zip(mixed.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(mixed.predict(x, verbose=0), copy.predict(x, verbose=0), atol=0.05)
    assert float32_model(copy, build) is copy


def test_mixed_float16_compiles_with_loss_scaling_and_trains(compose_train):
    cfg = compose_train("model=cnn_tiny", "augmentation=none")
    with dtype_policy("mixed_float16"):
        model = build_model(cfg.model, cfg.augmentation, (48, 48, 1), 7)
        compile_model(model, cfg, 1e-3)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x = np.random.default_rng(0).integers(0, 256, (16, 48, 48, 1)).astype("float32")
    history = model.fit(x, np.eye(7, dtype="float32")[np.arange(16) % 7], batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_mixed_bfloat16_run_registers_a_float32_model(state_root, compose_train):
    summary = train_run.run_training(compose_train(*TINY, "trainer.epochs=1", "trainer.precision=mixed_bfloat16"))
    assert keras.mixed_precision.dtype_policy().name == "float32"
    run = MlflowClient().get_run(summary.run_id)
    assert run.data.params["trainer.precision"] == "mixed_bfloat16"
    model = mlflow.keras.load_model(f"models:/precision/{summary.model_version}")
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    assert model.predict(np.zeros((2, 48, 48, 1), "float32"), verbose=0).shape == (2, 7)
