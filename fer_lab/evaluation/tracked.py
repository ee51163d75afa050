"""The evaluate-and-log step of training and of `python -m fer_lab.evaluate`: score a model on splits (and on
the unseen test rows) and log the metrics, confusion matrices and classification reports to MLflow."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fer_lab.data import FerData, Split
from fer_lab.evaluation.leakage import UnseenTestReport, unseen_test_report
from fer_lab.evaluation.metrics import SplitReport, evaluate_split
from fer_lab.evaluation.plots import plot_confusion


@dataclass(frozen=True)
class Evaluation:
    """The report of each scored split by name, and the test report divided by leakage (None if not asked)."""

    reports: dict[str, SplitReport]
    unseen_test: UnseenTestReport | None

    def metrics(self) -> dict[str, float]:
        """Every report's flat MLflow metrics (SplitReport.metrics, UnseenTestReport.metrics)."""
        flat = {}
        for report in self.reports.values():
            flat.update(report.metrics())
        return {**flat, **(self.unseen_test.metrics() if self.unseen_test else {})}


def evaluate_and_log(
    model, data: FerData, splits: Sequence[Split], *, tta: str, crop_fraction: float, unseen_test: bool
) -> Evaluation:
    """Score `model` on `splits` of `data` and log the result to the active MLflow run.

    With `unseen_test` and a test split among `splits`, the test rows are also scored apart by whether an exact
    copy of them is in data.train or data.val. Logs the metrics, figures/confusion_<split>.png and
    reports/classification_<split>.txt.
    """
    import mlflow

    reports = {
        s.name: evaluate_split(
            model,
            s.x,
            s.y,
            data.class_names,
            split=s.name,
            origin=s.origin,
            tta=tta,
            crop_fraction=crop_fraction,
            groups=s.groups,
        )
        for s in splits
    }
    unseen = None
    if unseen_test and data.test is not None and "test" in reports:
        unseen = unseen_test_report(reports["test"], data.test, (data.train, data.val), data.class_names)
    evaluation = Evaluation(reports, unseen)
    mlflow.log_metrics(evaluation.metrics())
    with tempfile.TemporaryDirectory() as tmp:
        for report in reports.values():
            figure = plot_confusion(report, data.class_names, Path(tmp) / f"confusion_{report.split}.png")
            mlflow.log_artifact(str(figure), "figures")
            mlflow.log_text(f"{report.summary()}\n\n{report.text}", f"reports/classification_{report.split}.txt")
    return evaluation
