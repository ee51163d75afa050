"""trainer.distribution=data_parallel on two virtual CPU devices matches training on one device.

Each backend runs in a fresh interpreter: JAX gets its devices from XLA_FLAGS, TensorFlow from a logical device
configuration made before it starts; both trainings (one device, then two) run in that one process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fer_lab.paths import CONF_DIR

# 60 training and 10 validation images: 2 devices fit on them all. Dropout and augmentation off: TensorFlow
# replicas draw their own random numbers.
OVERRIDES = [
    "data=synthetic",
    "data.samples_per_class=12",
    "model=cnn_tiny",
    "model.block_dropout=0",
    "model.dense_dropout=0",
    "augmentation=none",
    "trainer.epochs=2",
    "trainer.batch_size=16",
    "evaluation.tta=none",
    "evaluation.unseen_test=false",
]

SCRIPT = textwrap.dedent("""
    import json, sys
    import keras, numpy as np
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from hydra import compose, initialize_config_dir
    from mlflow import MlflowClient
    import fer_lab.extensions
    from fer_lab.errors import FerLabError
    from fer_lab.data import FerData, Split
    from fer_lab.training.distribution import Devices, split_evenly
    from fer_lab.training.run import run_training
    conf, out, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    try:
        Devices("data_parallel", 15)
        raise SystemExit("a batch of 15 must not split over 2 devices")
    except FerLabError as err:
        assert "trainer.batch_size=16" in str(err), err
    odd = FerData(*(Split(name, np.zeros((n, 4, 4, 1)), np.zeros((n, 7)), "") for name, n in
                    (("train", 5), ("val", 3), ("test", 3))), class_names=("a",) * 7, source="")
    with Devices("data_parallel", 16).scope():
        even = split_evenly(odd)
    assert (len(even.train), len(even.val), len(even.test)) == (4, 2, 3), even
    assert split_evenly(odd) is odd, "one device takes every image"
    report = {}
    for distribution in ("none", "data_parallel"):
        with initialize_config_dir(config_dir=conf, version_base="1.3"):
            cfg = compose("train", overrides=[*overrides, f"trainer.distribution={distribution}"])
        summary = run_training(cfg)
        np.savez(f"{out}/{distribution}.npz", *summary.fit.model.get_weights())
        client = MlflowClient()
        run = client.get_run(summary.run_id)
        report[distribution] = {
            "devices": run.data.tags["trainer.devices"],
            "val_accuracy": summary.reports["val"].accuracy,
            "loss": [m.value for m in client.get_metric_history(summary.run_id, "epoch/loss")],
            "val_accuracy_epochs": [m.value for m in client.get_metric_history(summary.run_id, "epoch/val_accuracy")],
        }
    print(json.dumps(report))
""")


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_data_parallel_on_two_devices_matches_one_device(backend, tmp_path, state_root):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(CONF_DIR), str(tmp_path), json.dumps(OVERRIDES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "data parallel on 2 devices" in result.stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    one, two = report["none"], report["data_parallel"]
    assert (one["devices"], two["devices"]) == ("1", "2")
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-4)
    assert two["val_accuracy_epochs"] == one["val_accuracy_epochs"]
    assert two["val_accuracy"] == one["val_accuracy"]
    weights = np.load(tmp_path / "none.npz"), np.load(tmp_path / "data_parallel.npz")
    for key in weights[0]:
        np.testing.assert_allclose(weights[1][key], weights[0][key], atol=1e-4, err_msg=key)


def test_one_device_trains_alone_with_a_note():
    from fer_lab.training.distribution import Devices

    assert Devices(None, 64).count == Devices("none", 64).count == 1
    devices = Devices("data_parallel", 63)  # one device: any batch size
    assert devices.count == 1
    assert "one device found" in devices.describe()
