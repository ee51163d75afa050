"""Small training callbacks: throughput, time budget, MLflow per-epoch metrics, one-line-per-epoch progress."""

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


class TimeBudget(keras.callbacks.Callback):
    """Stops training before the epoch that would end past `minutes` of the run's training time.

    `spent_seconds` is training time of earlier processes of the same run (a resumed run counts it). The
    estimate for the next epoch is the slowest epoch seen so far, so the budget is not overrun.
    """

    def __init__(self, minutes: float, spent_seconds: float = 0.0):
        super().__init__()
        self.budget = minutes * 60.0
        self.spent = spent_seconds
        self.start = time.perf_counter()
        self.slowest = 0.0
        self.stopped_at: int | None = None

    def used_seconds(self) -> float:
        """Training seconds of this run so far, earlier processes included."""
        return self.spent + time.perf_counter() - self.start

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.slowest = max(self.slowest, time.perf_counter() - self._epoch_start)
        if self.used_seconds() + self.slowest > self.budget:
            self.model.stop_training = True
            self.stopped_at = epoch + 1
            print(f"time budget of {self.budget / 60:g} min reached after epoch {epoch + 1}: stopping", flush=True)


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
        print(
            f"[{self.phase}] epoch {epoch + 1}/{self.total_epochs} {shown} ({logs.get('epoch_seconds', 0):.1f}s)",
            flush=True,
        )
