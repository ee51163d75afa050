"""TensorFlow's native start-up logs are off unless TF_CPP_MIN_LOG_LEVEL asks for them."""

from __future__ import annotations

import os
import subprocess
import sys

IMPORT = "import fer_lab, keras, tensorflow as tf; print(tf.reduce_sum(keras.ops.ones(3)).numpy())"


def test_importing_tensorflow_through_fer_lab_prints_nothing_unless_asked():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, env=env, check=True)
    assert (quiet.stdout, quiet.stderr) == ("3.0\n", "")
    asked = subprocess.run(
        [sys.executable, "-c", IMPORT], capture_output=True, text=True, env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"}
    )
    assert asked.stdout == "3.0\n" and asked.stderr  # TensorFlow's own lines, as without fer_lab
