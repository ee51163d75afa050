"""Accuracy and macro-F1 with their bootstrap intervals, per-class precision/recall/F1 and the confusion matrix of
one split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, f1_score, precision_recall_fscore_support

from fer_lab.evaluation.intervals import Interval, bootstrap_intervals, group_confusions
from fer_lab.evaluation.tta import predict_with_tta


@dataclass(frozen=True)
class SplitReport:
    """Metrics of one model on one split. `split` is train/val/test; `origin` says where its rows come from."""

    split: str
    origin: str
    tta: str
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]  # class -> precision, recall, f1, support
    confusion: np.ndarray  # rows: true class, columns: predicted class
    text: str  # sklearn classification report
    pred: np.ndarray  # predicted class of each row, in split order
    intervals: dict[str, Interval]  # accuracy, macro_f1 -> 95% bootstrap interval (over groups when the split has them)
    group_confusions: np.ndarray | None  # (G, K, K): one confusion matrix per group; None without groups

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics: <split>_accuracy, <split>_macro_f1, their _ci_low/_ci_high, <split>_<stat>_<class>."""
        flat = {f"{self.split}_accuracy": self.accuracy, f"{self.split}_macro_f1": self.macro_f1}
        for metric, interval in self.intervals.items():
            flat[f"{self.split}_{metric}_ci_low"], flat[f"{self.split}_{metric}_ci_high"] = interval.low, interval.high
        for name, stats in self.per_class.items():
            for stat in ("precision", "recall", "f1"):
                flat[f"{self.split}_{stat}_{name}"] = stats[stat]
        return flat

    def summary(self) -> str:
        acc, f1 = (self.intervals.get(m, "") for m in ("accuracy", "macro_f1"))
        return (
            (
                f"{self.split} ({self.origin}, tta={self.tta}): accuracy {self.accuracy:.4f} {acc}, "
                f"macro-F1 {self.macro_f1:.4f} {f1}"
            )
            .replace(" ,", ",")
            .rstrip()
        )


def evaluate_split(
    model,
    x: np.ndarray,
    y: np.ndarray,
    class_names: tuple[str, ...],
    *,
    split: str,
    origin: str,
    tta: str = "none",
    crop_fraction: float = 0.875,
    groups: np.ndarray | None = None,
) -> SplitReport:
    """Evaluate on images x (N,S,S,1) with label distributions y (N,K); hard labels are argmax(y)."""
    pred = np.argmax(predict_with_tta(model, x, tta, crop_fraction=crop_fraction), axis=1)
    return score_predictions(
        np.argmax(y, axis=1), pred, class_names, split=split, origin=origin, tta=tta, groups=groups
    )


def score_predictions(
    truth: np.ndarray,
    pred: np.ndarray,
    class_names: tuple[str, ...],
    *,
    split: str,
    origin: str,
    tta: str,
    groups: np.ndarray | None = None,
) -> SplitReport:
    """SplitReport of predicted classes `pred` against true classes `truth` (both (N,), N >= 1); `groups` (per-row
    person ids) make the intervals resample whole groups."""
    labels = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    return SplitReport(
        split=split,
        origin=origin,
        tta=tta,
        accuracy=float(np.mean(truth == pred)),
        macro_f1=float(f1_score(truth, pred, labels=labels, average="macro", zero_division=0)),
        per_class=per_class,
        confusion=confusion_matrix(truth, pred, labels=labels),
        text=classification_report(
            truth, pred, labels=labels, target_names=list(class_names), digits=4, zero_division=0
        ),
        pred=pred,
        intervals=bootstrap_intervals(truth, pred, len(class_names), groups),
        group_confusions=None if groups is None else group_confusions(truth, pred, groups, len(class_names)),
    )
