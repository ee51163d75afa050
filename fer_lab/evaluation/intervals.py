"""Bootstrap confidence intervals of accuracy and macro-F1, paired differences between two models scored on the
same rows, and McNemar's exact test.

Rows are resampled with replacement; with per-row groups (the persons of CK+), whole groups are resampled (from
each group's confusion matrix), so a person's images stay together and the interval reflects the spread across
persons.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
RESAMPLES = 1000
METRICS = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class Interval:
    """A two-sided bootstrap percentile interval at `LEVEL`."""

    low: float
    high: float

    def __str__(self) -> str:
        return f"[{self.low:.3f}, {self.high:.3f}]"


def scores(confusions: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy and macro-F1 (every class counted, 0 where it has no row and no prediction, as scikit-learn's
    zero_division=0) of confusion matrices (..., K, K), rows true classes."""
    tp = np.diagonal(confusions, axis1=-2, axis2=-1).astype(float)
    total = confusions.sum(axis=(-2, -1))
    denominator = confusions.sum(axis=-1) + confusions.sum(axis=-2)  # 2 tp + fn + fp per class
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return {"accuracy": tp.sum(axis=-1) / np.maximum(total, 1), "macro_f1": f1.mean(axis=-1)}


def bootstrap_intervals(
    truth: np.ndarray,
    pred: np.ndarray,
    n_classes: int,
    groups: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, Interval]:
    """The LEVEL bootstrap interval of accuracy and macro-F1 of `pred` against `truth` (classes 0..n_classes-1)."""
    return _intervals([(truth, pred)], n_classes, groups, resamples, seed, lambda s: s[0])


def paired_differences(
    truth: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    n_classes: int,
    groups: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, Interval]:
    """LEVEL intervals of (B - A) in accuracy and macro-F1, both models scored on the same resampled rows."""
    pairs = [(truth, pred_a), (truth, pred_b)]
    return _intervals(pairs, n_classes, groups, resamples, seed, lambda s: s[1] - s[0])


def group_confusions(truth: np.ndarray, pred: np.ndarray, groups: np.ndarray, n_classes: int) -> np.ndarray:
    """One confusion matrix per group (G, K, K), groups in sorted order: all a group-level bootstrap needs."""
    _, group = np.unique(groups, return_inverse=True)
    k = n_classes
    codes = group * k * k + truth * k + pred
    return np.bincount(codes, minlength=(group.max() + 1) * k * k).reshape(-1, k, k)


def intervals_over_groups(confusions: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Interval]:
    """LEVEL intervals of accuracy and macro-F1 resampling whole groups, from their confusions (G, K, K)."""
    stats: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    for draws in _draws(len(confusions), resamples, seed, len(confusions) * confusions[0].size):
        for name, values in scores(confusions[draws].sum(axis=1)).items():
            stats[name].append(values)
    return {name: _percentiles(np.concatenate(values)) for name, values in stats.items()}


def _intervals(pairs, k: int, groups, resamples: int, seed: int, statistic) -> dict[str, Interval]:
    """Intervals of statistic([scores of each (truth, pred) pair]) over resamples of rows or of whole groups."""
    if groups is not None:
        sets = [group_confusions(t, p, groups, k) for t, p in pairs]
        resampled = (
            [c[draws].sum(axis=1) for c in sets] for draws in _draws(len(sets[0]), resamples, seed, sets[0][0].size)
        )
    else:
        n = len(pairs[0][0])
        resampled = ([_confusions(t, p, rows, k) for t, p in pairs] for rows in _draws(n, resamples, seed, 1))
    stats: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    for confusions in resampled:
        per_set = [scores(c) for c in confusions]
        for name in METRICS:
            stats[name].append(statistic([s[name] for s in per_set]))
    return {name: _percentiles(np.concatenate(values)) for name, values in stats.items()}


def mcnemar_p(truth: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """McNemar's exact test (two-sided binomial on the rows exactly one model gets right); 1.0 when none."""
    from scipy.stats import binomtest

    a_only = int(np.sum((pred_a == truth) & (pred_b != truth)))
    b_only = int(np.sum((pred_a != truth) & (pred_b == truth)))
    if a_only + b_only == 0:
        return 1.0
    return float(binomtest(a_only, a_only + b_only, 0.5).pvalue)


def _draws(n: int, resamples: int, seed: int, cost: int) -> Iterator[np.ndarray]:
    """Indices of `resamples` draws of n items with replacement, in (chunk, n) blocks of bounded memory (`cost`:
    numbers held per drawn item)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, 4_000_000 // max(n * cost, 1)))
    for start in range(0, resamples, chunk):
        yield rng.integers(0, n, (min(chunk, resamples - start), n))


def _confusions(truth: np.ndarray, pred: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrices (R, k, k) of the R resamples in `rows` (R, n)."""
    codes = truth[rows] * k + pred[rows] + (np.arange(len(rows)) * k * k)[:, None]
    return np.bincount(codes.ravel(), minlength=len(rows) * k * k).reshape(len(rows), k, k)


def _percentiles(values: np.ndarray) -> Interval:
    low, high = np.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return Interval(float(low), float(high))
