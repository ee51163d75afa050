"""The JAX backend (machines with JAX and no TensorFlow train on it): augmented models train jitted, end to end.

The test runs a fresh interpreter with KERAS_BACKEND=jax, since a process holds one Keras backend.
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


TRAIN = ("data=synthetic", "data.samples_per_class=12", "model=cnn_tiny", "augmentation=default", "trainer.epochs=1")


def run_jax(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600)


def test_augmented_model_trains_jitted_with_new_augmentations_each_step_runs_jitted_once_loaded_and_trains_end_to_end(
    tmp_path, state_root
):
    """Resumed training, evaluation and inference load saved models, which Keras compiles before fer_lab can act;
    then `python -m fer_lab.train` runs in the same interpreter."""
    script = textwrap.dedent(f"""
        import keras, mlflow, numpy as np
        from pathlib import Path
        from hydra import compose, initialize_config_dir
        from fer_lab.inference.recognizer import EmotionRecognizer
        from fer_lab.models import build_model
        from fer_lab.tracking.model_io import ModelMetadata, load_logged_model, log_keras_model
        from fer_lab.tracking.runs import ensure_experiment
        from fer_lab.tracking.uri import configure_tracking
        from fer_lab.training.checkpoint import CheckpointStore
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
        tmp = Path({str(tmp_path)!r})
        (tmp / "checkpoint").mkdir()
        store = CheckpointStore(tmp / "checkpoint")
        store.save_last(model)
        resumed = store.load_last()
        assert resumed.compiled and resumed.jit_compile, "a resumed run must train jitted"
        model.save(tmp / "model.keras")
        assert EmotionRecognizer.from_file(tmp / "model.keras").model.jit_compile
        with mlflow.start_run(experiment_id=ensure_experiment("jit", configure_tracking())):
            info = log_keras_model(model, ModelMetadata(("a",) * 7, 48, 0.0, "cnn_tiny"), x[:2])
        loaded, _ = load_logged_model(info.model_uri)
        assert loaded.jit_compile
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
        print("ok", len(seeds))
        import runpy, sys
        sys.argv = ["fer_lab.train", *{TRAIN!r}]
        try:
            runpy.run_module("fer_lab.train", run_name="__main__")
        except SystemExit as end:
            assert not end.code, end.code
    """)
    result = run_jax(["-c", script])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
    assert "support `jit_compile=True`" not in result.stderr
    assert "registered fer_lab_synthetic version 1; champion stays: trained on synthetic faces" in result.stdout
