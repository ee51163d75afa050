"""Leak-aware test metrics. FER-2013 repeats exact images across splits (269 PublicTest images are also in
Training), and a model scores the copies of images it trained on almost for free. So the test score is also
reported on the test rows without such a copy, next to the accuracy on the leaked rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fer_lab.data import Split
from fer_lab.data.splits import image_ids
from fer_lab.evaluation.metrics import SplitReport, score_predictions


@dataclass(frozen=True)
class UnseenTestReport:
    """A test report divided by whether each row's exact pixels occur in the data the model saw."""

    split: str  # split of the divided report (test)
    unseen: SplitReport | None  # split `<split>_unseen`: the rows without a copy; None if there are none
    unseen_rows: int
    leaked_rows: int
    leaked_accuracy: float | None  # accuracy on the rows with a copy; None if there are none

    def metrics(self) -> dict[str, float]:
        """<split>_unseen_* (as SplitReport.metrics), <split>_unseen_rows, <split>_leaked_rows and
        <split>_leaked_accuracy (when there are leaked rows)."""
        flat = {
            **(self.unseen.metrics() if self.unseen else {}),
            f"{self.split}_unseen_rows": float(self.unseen_rows),
            f"{self.split}_leaked_rows": float(self.leaked_rows),
        }
        if self.leaked_accuracy is not None:
            flat[f"{self.split}_leaked_accuracy"] = self.leaked_accuracy
        return flat

    def summary(self) -> str:
        unseen = self.unseen.summary() if self.unseen else f"{self.split}_unseen: no rows"
        if self.leaked_accuracy is None:
            return f"{unseen}; no leaked rows"
        return f"{unseen}; the {self.leaked_rows} leaked rows: accuracy {self.leaked_accuracy:.4f}"


def unseen_test_report(
    report: SplitReport, test: Split, seen: Sequence[Split], class_names: tuple[str, ...]
) -> UnseenTestReport:
    """Divide `report` (of `test`, same TTA) into the rows whose exact pixels occur in none of the `seen` splits
    (what the model trained or was selected on) and the leaked rest."""
    test_ids, *seen_ids = image_ids(test.x, *(s.x for s in seen))
    leaked = np.isin(test_ids, np.concatenate(seen_ids))
    kept, truth, pred = ~leaked, test.labels, report.pred
    origin = (
        f"{report.origin} rows without an exact copy in {' or '.join(s.name for s in seen)} "
        f"({kept.sum()} of {kept.size})"
    )
    unseen = (
        score_predictions(
            truth[kept], pred[kept], class_names, split=f"{report.split}_unseen", origin=origin, tta=report.tta
        )
        if kept.any()
        else None
    )
    leaked_accuracy = float(np.mean(truth[leaked] == pred[leaked])) if leaked.any() else None
    return UnseenTestReport(report.split, unseen, int(kept.sum()), int(leaked.sum()), leaked_accuracy)
