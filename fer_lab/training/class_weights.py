"""Per-class loss weights that counter FER-2013's imbalance (disgust is 16x rarer than happy)."""

from __future__ import annotations

import numpy as np


def class_weights(labels: np.ndarray, num_classes: int, mode: str, beta: float = 0.999) -> np.ndarray | None:
    """Per-class weights whose average over the training samples is 1, or None for mode "none".

    Averaging 1 per sample keeps the effective learning rate of unweighted training.

    balanced: n / (k * n_c). effective_number: (1 - beta) / (1 - beta ** n_c) (Cui et al., CVPR 2019).
    """
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=num_classes).astype("float64")
    present = counts > 0
    weights = np.zeros(num_classes)
    if mode == "balanced":
        weights[present] = counts.sum() / (present.sum() * counts[present])
    elif mode == "effective_number":
        weights[present] = (1.0 - beta) / (1.0 - np.power(beta, counts[present]))
    else:
        raise ValueError(f"unknown class weighting {mode!r}")
    weights *= counts.sum() / (counts * weights).sum()
    return weights.astype("float32")
