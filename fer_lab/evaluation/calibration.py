"""How far a model's confidence is from its accuracy, and temperature scaling to bring them together.

Expected calibration error (ECE) bins the top probability of each row into ECE_BINS equal-width bins and averages,
weighted by the rows of each bin, the gap between the bin's mean confidence and its accuracy. Temperature scaling
divides the log-probabilities by one number T fitted on validation rows (model_io.apply_temperature): it changes
how sure the model says it is, never its answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fer_lab.tracking.model_io import apply_temperature

ECE_BINS = 15
TEMPERATURE_RANGE = (0.05, 20.0)
"""The temperatures fit_temperature searches."""
RISK_COVERAGE_THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Reliability:
    """Rows binned by their top probability: each bin's mean top probability, accuracy and row count (empty bins:
    NaN, NaN, 0)."""

    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        filled = self.counts > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float(np.sum(gaps * self.counts[filled]) / self.counts.sum())


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> Reliability:
    """The reliability bins of probabilities `probs` (N, K) against true classes `labels` (N,), N >= 1."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype("float64")
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore"):
        return Reliability(
            np.bincount(index, confidence, bins) / counts, np.bincount(index, correct, bins) / counts, counts
        )


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE of `probs` (N, K) against true classes `labels` (N,) in `bins` equal-width bins."""
    return reliability(probs, labels, bins).ece


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true class)."""
    picked = np.asarray(probs, dtype="float64")[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(picked, np.finfo("float64").tiny))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T in TEMPERATURE_RANGE that minimises the NLL of apply_temperature(probs, T) on `labels`:
    T > 1 for an overconfident model, T < 1 for an underconfident one."""
    from scipy.optimize import minimize_scalar

    probs = np.asarray(probs, dtype="float64")
    low, high = np.log(TEMPERATURE_RANGE)
    best = minimize_scalar(
        lambda log_t: negative_log_likelihood(apply_temperature(probs, float(np.exp(log_t))), labels),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(best.x))


@dataclass(frozen=True)
class CoverageRow:
    """The faces answered at one threshold: their share of all faces and their accuracy (NaN when none)."""

    threshold: float
    coverage: float
    accuracy: float


def risk_coverage(
    probs: np.ndarray, labels: np.ndarray, thresholds: Sequence[float] = RISK_COVERAGE_THRESHOLDS
) -> list[CoverageRow]:
    """For each threshold, the rows whose top probability is at least it (the others are called "uncertain")."""
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append(CoverageRow(threshold, float(kept.mean()), float(correct[kept].mean()) if kept.any() else np.nan))
    return rows


def coverage_table(rows: Sequence[CoverageRow]) -> str:
    """The risk-coverage rows as a Markdown table."""
    lines = ["| uncertain below | answered | accuracy of the answered |", "|---:|---:|---:|"]
    lines += [f"| {r.threshold:.1f} | {r.coverage:.1%} | {r.accuracy:.4f} |" for r in rows]
    return "\n".join(lines)
