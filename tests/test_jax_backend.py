"""The JAX backend (the lent GPU machines have JAX, not TensorFlow): augmented models train jitted, end to end.

Each test runs a fresh interpreter with KERAS_BACKEND=jax, since a process holds one Keras backend.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

from fer_lab.paths import CONF_DIR

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")


def run_jax(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600)


def test_augmented_model_compiles_with_jit_and_draws_new_augmentations_each_step():
    script = textwrap.dedent(f"""
        import keras, numpy as np
        from hydra import compose, initialize_config_dir
        from fer_lab.models import build_model
        from fer_lab.training.fit import compile_model
        with initialize_config_dir(config_dir={str(CONF_DIR)!r}, version_base="1.3"):
            cfg = compose("train", overrides=["model=cnn_tiny", "augmentation=default"])
        model = build_model(cfg.model, cfg.augmentation)
        compile_model(model, cfg, 1e-3)
        assert model.jit_compile, "an augmented model must train jitted on JAX"
        seeds = [v for v in model.non_trainable_variables if "seed_generator" in v.path]
        assert seeds, [v.path for v in model.non_trainable_variables]
        before = [np.array(v.value) for v in seeds]
        x = np.random.default_rng(0).uniform(0, 255, (128, 48, 48, 1)).astype("float32")
        y = keras.utils.to_categorical(np.arange(128) % 7, 7)
        history = model.fit(x, y, batch_size=64, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
        assert all((np.array(v.value) != b).any() for v, b in zip(seeds, before)), "seed states did not advance"
        print("ok", len(seeds))
    """)
    result = run_jax(["-c", script])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")


def test_train_runs_end_to_end_on_jax(state_root):
    result = run_jax(["-m", "fer_lab.train", "data=synthetic", "data.samples_per_class=12", "model=cnn_tiny",
                      "augmentation=default", "trainer.epochs=1"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "alias champion" in result.stdout
