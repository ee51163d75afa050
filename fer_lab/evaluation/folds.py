"""Cross-validation summaries: mean and standard deviation over folds, the confusion matrix summed over the folds,
and 95% intervals of the pooled folds resampling persons (groups) when the folds have them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_lab.evaluation.intervals import Interval, intervals_over_groups
from fer_lab.evaluation.metrics import SplitReport, score_predictions


@dataclass(frozen=True)
class FoldScore:
    """What a cross-validation keeps of one fold's report on one split."""

    accuracy: float
    macro_f1: float
    confusion: np.ndarray
    group_confusions: np.ndarray | None = None  # (G, K, K) per person, when the split has groups

    @classmethod
    def of(cls, report: SplitReport) -> FoldScore:
        return cls(report.accuracy, report.macro_f1, report.confusion, report.group_confusions)

    def to_dict(self) -> dict:
        groups = None if self.group_confusions is None else self.group_confusions.tolist()
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "confusion": self.confusion.tolist(),
            "group_confusions": groups,
        }

    @classmethod
    def from_dict(cls, d: dict) -> FoldScore:
        groups = d.get("group_confusions")
        return cls(
            float(d["accuracy"]),
            float(d["macro_f1"]),
            np.array(d["confusion"], np.int64),
            None if groups is None else np.array(groups, np.int64),
        )


@dataclass(frozen=True)
class FoldSummary:
    """The fold scores of one split (test or val) and their aggregate."""

    split: str
    class_names: tuple[str, ...]
    scores: tuple[FoldScore, ...]
    tta: str

    def values(self, stat: str) -> np.ndarray:
        return np.array([getattr(s, stat) for s in self.scores])

    def group_confusions(self) -> np.ndarray | None:
        """Every fold's per-person confusion matrices; None without groups. A person appears once in the test folds
        (each is tested in one fold) but may appear in several folds' validation splits."""
        parts = [s.group_confusions for s in self.scores if s.group_confusions is not None]
        return np.concatenate(parts) if parts and len(parts) == len(self.scores) else None

    def person_intervals(self) -> dict[str, Interval]:
        """95% intervals of the pooled test folds' accuracy and macro-F1 resampling persons ({} without groups, and
        for validation, whose splits share persons across folds)."""
        by_group = self.group_confusions() if self.split == "test" else None
        return {} if by_group is None else intervals_over_groups(by_group)

    def metrics(self) -> dict[str, float]:
        """cv_<split>_<stat>_mean and _std (standard deviation over folds) for accuracy and macro-F1, and with
        groups cv_<split>_<stat>_ci_low/_high (the pooled folds, resampling persons)."""
        flat = {}
        for stat in ("accuracy", "macro_f1"):
            values = self.values(stat)
            flat[f"cv_{self.split}_{stat}_mean"] = float(values.mean())
            flat[f"cv_{self.split}_{stat}_std"] = float(values.std())
        for stat, interval in self.person_intervals().items():
            flat[f"cv_{self.split}_{stat}_ci_low"] = interval.low
            flat[f"cv_{self.split}_{stat}_ci_high"] = interval.high
        return flat

    def pooled(self) -> SplitReport:
        """One report of every fold's rows together: its confusion matrix is the sum of the folds', its intervals
        resample persons for test folds with groups (each person is tested in one fold)."""
        by_group = self.group_confusions() if self.split == "test" else None
        confusions = np.sum([s.confusion for s in self.scores], axis=0)[None] if by_group is None else by_group
        group, true_class, predicted = np.indices(confusions.shape).reshape(3, -1)
        counts = confusions.ravel()
        return score_predictions(
            np.repeat(true_class, counts),
            np.repeat(predicted, counts),
            self.class_names,
            split=f"cv_{self.split}",
            tta=self.tta,
            origin=f"the {self.split} splits of {len(self.scores)} folds together",
            groups=None if by_group is None else np.repeat(group, counts),
        )

    def summary(self) -> str:
        acc, f1 = self.values("accuracy"), self.values("macro_f1")
        line = (
            f"{self.split} over {len(self.scores)} folds (tta={self.tta}): accuracy {acc.mean():.4f} +- "
            f"{acc.std():.4f}, macro-F1 {f1.mean():.4f} +- {f1.std():.4f}"
        )
        persons = self.person_intervals()
        if persons:
            pooled = self.pooled()
            line += (
                f"; the folds pooled, 95% over persons: accuracy {pooled.accuracy:.4f} {persons['accuracy']}, "
                f"macro-F1 {pooled.macro_f1:.4f} {persons['macro_f1']}"
            )
        return line

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
