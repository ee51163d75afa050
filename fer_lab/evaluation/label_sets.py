"""Scoring a model on data with another label set: only the classes both have are scored, and what is left
out on either side is said, never dropped silently."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fer_lab.errors import FerLabError
from fer_lab.evaluation.metrics import SplitReport, score_predictions


@dataclass(frozen=True)
class SharedClasses:
    """The classes a model and a dataset share, in the data's order, and those only one of them has."""

    names: tuple[str, ...]
    model_only: tuple[str, ...]  # the model can predict them, the data has no image of them
    data_only: tuple[str, ...]  # the data has images of them, the model cannot predict them

    @classmethod
    def of(cls, model_classes: tuple[str, ...], data_classes: tuple[str, ...]) -> SharedClasses:
        shared = tuple(c for c in data_classes if c in model_classes)
        if len(shared) < 2:
            raise FerLabError(
                f"the model's classes ({', '.join(model_classes)}) and the data's "
                f"({', '.join(data_classes)}) share {len(shared)} class: map the data's folders to "
                "the model's names with data.class_map=[folder:class,...]"
            )
        return cls(
            shared,
            tuple(c for c in model_classes if c not in shared),
            tuple(c for c in data_classes if c not in shared),
        )


def score_shared_classes(
    probs: np.ndarray,
    truth: np.ndarray,
    model_classes: tuple[str, ...],
    data_classes: tuple[str, ...],
    *,
    split: str,
    origin: str,
    tta: str,
    groups: np.ndarray | None = None,
) -> tuple[SplitReport, list[str]]:
    """Score model probabilities `probs` (N, model classes) against data labels `truth` (N,) on the shared
    classes: rows of data-only classes are not scored, and the prediction is the most probable shared class;
    per-row `groups` (persons) make the intervals resample whole groups. Returns the report and notes saying what
    was left out."""
    shared = SharedClasses.of(model_classes, data_classes)
    columns = [model_classes.index(c) for c in shared.names]
    data_index = {c: i for i, c in enumerate(data_classes)}
    keep = np.isin(truth, [data_index[c] for c in shared.names])
    remap = {data_index[c]: i for i, c in enumerate(shared.names)}
    scored_truth = np.array([remap[t] for t in truth[keep]], np.int64)
    pred = probs[keep][:, columns].argmax(axis=1)
    notes = []
    if shared.data_only:
        counts = ", ".join(f"{c} {int(np.sum(truth == data_index[c]))}" for c in shared.data_only)
        notes.append(f"not scored: images of classes the model does not have ({counts})")
    if shared.model_only:
        rate = float(np.isin(probs[keep].argmax(axis=1), [model_classes.index(c) for c in shared.model_only]).mean())
        notes.append(
            f"the data has no {', '.join(shared.model_only)} images: predictions are the most probable of "
            f"the {len(shared.names)} shared classes (unrestricted, {rate:.1%} of the scored images would "
            f"be called {' or '.join(shared.model_only)})"
        )
    origin = f"{origin}, the {len(shared.names)} classes the model shares"
    kept_groups = None if groups is None else groups[keep]
    report = score_predictions(
        scored_truth, pred, shared.names, split=split, origin=origin, tta=tta, groups=kept_groups
    )
    return report, notes
