"""The evaluate-and-log step of training and of `python -m fer_lab.evaluate`: score a model on splits (and on
the unseen test rows) and log the metrics, calibration errors, confusion matrices, reliability diagrams and
classification reports to MLflow."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_lab.data import FerData, Split
from fer_lab.evaluation.calibration import expected_calibration_error
from fer_lab.evaluation.leakage import UnseenTestReport, unseen_test_report
from fer_lab.evaluation.metrics import SplitReport, score_predictions
from fer_lab.evaluation.plots import plot_confusion, plot_reliability
from fer_lab.evaluation.tta import predict_with_tta
from fer_lab.tracking.model_io import apply_temperature


@dataclass(frozen=True)
class Evaluation:
    """The report of each scored split by name, the test report divided by leakage (None if not asked), and each
    split's class probabilities (N, K) and their expected calibration error."""

    reports: dict[str, SplitReport]
    unseen_test: UnseenTestReport | None
    probabilities: dict[str, np.ndarray]
    ece: dict[str, float]

    def metrics(self) -> dict[str, float]:
        """Every report's flat MLflow metrics (SplitReport.metrics, UnseenTestReport.metrics) and <split>_ece."""
        flat = {f"{split}_ece": ece for split, ece in self.ece.items()}
        for report in self.reports.values():
            flat.update(report.metrics())
        return {**flat, **(self.unseen_test.metrics() if self.unseen_test else {})}


def evaluate_and_log(
    model,
    data: FerData,
    splits: Sequence[Split],
    *,
    tta: str,
    crop_fraction: float,
    unseen_test: bool,
    temperature: float = 1.0,
) -> Evaluation:
    """Score `model` on `splits` of `data` and log the result to the active MLflow run.

    The probabilities are the model's at `tta`, scaled by `temperature` as inference serves them (the model's for
    `tta`: ModelMetadata.temperature).
    With `unseen_test` and a test split among `splits`, the test rows are also scored apart by whether an exact
    copy of them is in data.train or data.val. Logs the metrics (with <split>_ece), figures/confusion_<split>.png,
    figures/reliability_<split>.png and reports/classification_<split>.txt.
    """
    import mlflow

    probabilities = {
        s.name: apply_temperature(predict_with_tta(model, s.x, tta, crop_fraction=crop_fraction), temperature)
        for s in splits
    }
    reports = {
        s.name: score_predictions(
            s.labels,
            np.argmax(probabilities[s.name], axis=1),
            data.class_names,
            split=s.name,
            origin=s.origin,
            tta=tta,
            groups=s.groups,
        )
        for s in splits
    }
    ece = {s.name: expected_calibration_error(probabilities[s.name], s.labels) for s in splits}
    unseen = None
    if unseen_test and data.test is not None and "test" in reports:
        unseen = unseen_test_report(reports["test"], data.test, (data.train, data.val), data.class_names)
    evaluation = Evaluation(reports, unseen, probabilities, ece)
    mlflow.log_metrics(evaluation.metrics())
    with tempfile.TemporaryDirectory() as tmp:
        for s in splits:
            report = reports[s.name]
            figure = plot_confusion(report, data.class_names, Path(tmp) / f"confusion_{s.name}.png")
            mlflow.log_artifact(str(figure), "figures")
            title = f"{s.name} split: {s.origin}\ntta={tta}, temperature {temperature:.3g}"
            figure = plot_reliability(
                s.labels, {"model": probabilities[s.name]}, title, Path(tmp) / f"reliability_{s.name}.png"
            )
            mlflow.log_artifact(str(figure), "figures")
            mlflow.log_text(f"{report.summary()}\n\n{report.text}", f"reports/classification_{s.name}.txt")
    return evaluation
