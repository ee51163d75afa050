"""Small training callbacks: throughput, MLflow per-epoch metrics, one-line-per-epoch progress."""

from __future__ import annotations

import time

import keras


class Throughput(keras.callbacks.Callback):
    """Adds epoch_seconds and img_per_s (training images per second) to the epoch logs."""

    def __init__(self, num_images: int):
        super().__init__()
        self.num_images = num_images
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        self.seconds.append(elapsed)
        if logs is not None:
            logs["epoch_seconds"] = elapsed
            logs["img_per_s"] = self.num_images / elapsed


class MlflowEpochMetrics(keras.callbacks.Callback):
    """Logs every epoch metric to the active MLflow run as `epoch/<name>`, step = global epoch."""

    def on_epoch_end(self, epoch, logs=None):
        import mlflow

        metrics = {f"epoch/{k}": float(v) for k, v in (logs or {}).items()}
        metrics["epoch/learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        mlflow.log_metrics(metrics, step=epoch)


class EpochLine(keras.callbacks.Callback):
    """One readable line per epoch (for log files and CI, where progress bars turn into noise)."""

    def __init__(self, total_epochs: int, phase: str):
        super().__init__()
        self.total_epochs, self.phase = total_epochs, phase

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if k != "epoch_seconds")
        print(f"[{self.phase}] epoch {epoch + 1}/{self.total_epochs} {shown} "
              f"({logs.get('epoch_seconds', 0):.1f}s)", flush=True)
