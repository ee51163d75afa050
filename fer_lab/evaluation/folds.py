"""Cross-validation summaries: mean and standard deviation over folds, and the confusion matrix summed over
the folds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_lab.evaluation.metrics import SplitReport, score_predictions


@dataclass(frozen=True)
class FoldScore:
    """What a cross-validation keeps of one fold's report on one split."""

    accuracy: float
    macro_f1: float
    confusion: np.ndarray

    @classmethod
    def of(cls, report: SplitReport) -> FoldScore:
        return cls(report.accuracy, report.macro_f1, report.confusion)

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "confusion": self.confusion.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> FoldScore:
        return cls(float(d["accuracy"]), float(d["macro_f1"]), np.array(d["confusion"], np.int64))


@dataclass(frozen=True)
class FoldSummary:
    """The fold scores of one split (test or val) and their aggregate."""

    split: str
    class_names: tuple[str, ...]
    scores: tuple[FoldScore, ...]
    tta: str

    def values(self, stat: str) -> np.ndarray:
        return np.array([getattr(s, stat) for s in self.scores])

    def metrics(self) -> dict[str, float]:
        """cv_<split>_<stat>_mean and _std (standard deviation over folds) for accuracy and macro-F1."""
        flat = {}
        for stat in ("accuracy", "macro_f1"):
            values = self.values(stat)
            flat[f"cv_{self.split}_{stat}_mean"] = float(values.mean())
            flat[f"cv_{self.split}_{stat}_std"] = float(values.std())
        return flat

    def pooled(self) -> SplitReport:
        """One report of every fold's rows together: its confusion matrix is the sum of the folds'."""
        confusion = np.sum([s.confusion for s in self.scores], axis=0)
        true_class, predicted = np.indices(confusion.shape).reshape(2, -1)
        counts = confusion.ravel()
        return score_predictions(
            np.repeat(true_class, counts),
            np.repeat(predicted, counts),
            self.class_names,
            split=f"cv_{self.split}",
            tta=self.tta,
            origin=f"the {self.split} splits of {len(self.scores)} folds together",
        )

    def summary(self) -> str:
        acc, f1 = self.values("accuracy"), self.values("macro_f1")
        return (
            f"{self.split} over {len(self.scores)} folds (tta={self.tta}): accuracy {acc.mean():.4f} +- "
            f"{acc.std():.4f}, macro-F1 {f1.mean():.4f} +- {f1.std():.4f}"
        )

    def log(self, run_id: str) -> None:
        """Log the metrics, the summed confusion matrix and the per-fold table to MLflow run `run_id`."""
        import tempfile
        import time
        from pathlib import Path

        from mlflow import MlflowClient
        from mlflow.entities import Metric

        from fer_lab.evaluation.plots import plot_confusion

        client, now = MlflowClient(), int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in self.metrics().items()])
        pooled = self.pooled()
        with tempfile.TemporaryDirectory() as tmp:
            path = plot_confusion(pooled, self.class_names, Path(tmp) / f"confusion_cv_{self.split}.png")
            client.log_artifact(run_id, str(path), "figures")
        rows = "\n".join(f"| {k} | {s.accuracy:.4f} | {s.macro_f1:.4f} |" for k, s in enumerate(self.scores))
        client.log_text(
            run_id,
            f"{self.summary()}\n\n| fold | accuracy | macro-F1 |\n|---|---|---|\n{rows}\n\n{pooled.text}",
            f"reports/cv_{self.split}.md",
        )
