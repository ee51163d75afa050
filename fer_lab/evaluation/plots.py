"""PNG figures for MLflow: confusion matrix, reliability diagram, training curves, a grid of sample predictions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fer_lab.evaluation.calibration import ECE_BINS, reliability
from fer_lab.evaluation.metrics import SplitReport


def plot_confusion(report: SplitReport, class_names: tuple[str, ...], path: Path) -> Path:
    """Row-normalised confusion matrix with counts, titled with the split it comes from."""
    counts = report.confusion
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (i, j), n in np.ndenumerate(counts):
        ax.text(
            j,
            i,
            f"{rates[i, j]:.2f}\n({n})",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if rates[i, j] > 0.5 else "black",
        )
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        f"{report.split} split: {report.origin}\naccuracy {report.accuracy:.3f}, "
        f"macro-F1 {report.macro_f1:.3f}, tta={report.tta}",
        fontsize=9,
    )
    return _save(fig, path)


def plot_reliability(labels: np.ndarray, curves: Mapping[str, np.ndarray], title: str, path: Path) -> Path:
    """Accuracy against confidence in ECE_BINS bins of the top probability, one line per named set of probabilities
    (N, K) in `curves` (with its ECE), and the share of rows in each bin below."""
    fig, (ax, share) = plt.subplots(
        2, 1, figsize=(4.8, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1]}, constrained_layout=True
    )
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="calibrated")
    centres = (np.arange(ECE_BINS) + 0.5) / ECE_BINS
    for name, probs in curves.items():
        bins = reliability(probs, labels)
        filled = bins.counts > 0
        ax.plot(bins.confidence[filled], bins.accuracy[filled], marker="o", ms=4, label=f"{name}: ECE {bins.ece:.3f}")
        share.plot(centres, bins.counts / bins.counts.sum(), drawstyle="steps-mid")
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    share.set(xlabel="confidence (top probability)", ylabel="share of rows")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_curves(history: dict[str, list[float]], path: Path) -> Path:
    """Loss, accuracy and macro-F1 per epoch, training vs validation."""
    panels = [name for name in ("loss", "accuracy", "macro_f1") if name in history]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, name in zip(axes[0], panels, strict=True):
        ax.plot(range(1, len(history[name]) + 1), history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(range(1, len(history[f"val_{name}"]) + 1), history[f"val_{name}"], label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    return _save(fig, path)


def plot_samples(
    x: np.ndarray, truth: np.ndarray, pred: np.ndarray, class_names: tuple[str, ...], split: str, path: Path
) -> Path:
    """Grid of images titled true/predicted (red when wrong)."""
    n = len(x)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, t, p in zip(axes.flat, x, truth, pred, strict=False):
        ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{class_names[t]}\n→{class_names[p]}", fontsize=7, color="black" if t == p else "red")
    fig.suptitle(f"{split} split samples (true → predicted)", fontsize=9)
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
