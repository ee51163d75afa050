"""fer_lab: facial emotion recognition experiments."""

import os
import sys

from fer_lab._quiet import QuietImport

__all__ = ["EmotionRecognizer"]

if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:  # set it (0 shows everything) to see TensorFlow's start-up logs
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.meta_path.insert(0, QuietImport("tensorflow"))


def __getattr__(name: str):
    """Import the inference API on first use, so `import fer_lab` stays light."""
    if name == "EmotionRecognizer":
        from fer_lab.inference.recognizer import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'fer_lab' has no attribute {name!r}")
