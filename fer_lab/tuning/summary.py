"""Study summary: the trials table sorted by objective, objective-vs-trial and hyperparameter-importance plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lab.tuning.search_space import HyperParam


def trial_table(
    trials: dict, params: list[HyperParam], objective: str, direction: str, run_ids: dict[str, str]
) -> pd.DataFrame:
    """One row per trial (oracle trials by id): rank, trial, status, objective, hp values, MLflow run id."""
    rows = []
    for order, (trial_id, trial) in enumerate(sorted(trials.items())):
        values = trial.hyperparameters.values
        score = trial.score if trial.status == "COMPLETED" else None
        rows.append(
            {
                "trial": trial_id,
                "order": order,
                "status": trial.status,
                objective: score,
                **{p.name: values.get(p.name) for p in params},
                **{k: v for k, v in values.items() if k.startswith("tuner/")},
                "run_id": run_ids.get(trial_id, ""),
            }
        )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.sort_values(objective, ascending=direction == "min", na_position="last", kind="stable")
    df.insert(0, "rank", range(1, len(df) + 1))
    return df.reset_index(drop=True)


def importance(df: pd.DataFrame, params: list[HyperParam], objective: str) -> pd.Series:
    """How strongly each hyperparameter goes with the objective over completed trials, in [0, 1].

    Numbers: |Spearman correlation| (on log scale for log sampling); categories: correlation ratio eta.
    """
    done = df[df["status"] == "COMPLETED"]
    scores = done[objective].astype(float).to_numpy()
    out: dict[str, float] = {}
    if len(done) < 3 or np.ptp(scores) == 0:
        return pd.Series(out, dtype=float)
    for p in params:
        column = done[p.name]
        if p.type in ("float", "int"):
            x = column.astype(float).to_numpy()
            if np.ptp(x) > 0:
                out[p.name] = abs(np.corrcoef(_ranks(x), _ranks(scores))[0, 1])
        else:
            groups = [scores[(column == v).to_numpy()] for v in column.unique()]
            between = sum(len(g) * (g.mean() - scores.mean()) ** 2 for g in groups)
            out[p.name] = math.sqrt(between / ((scores - scores.mean()) ** 2).sum()) if len(groups) > 1 else 0.0
    return pd.Series(out, dtype=float).sort_values(ascending=False)


def write_summary(
    df: pd.DataFrame, params: list[HyperParam], objective: str, direction: str, folder: Path
) -> list[Path]:
    """trials.csv, trials.txt and the two plots in `folder`; returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "trials.csv", folder / "trials.txt"]
    df.to_csv(paths[0], index=False)
    paths[1].write_text(df.drop(columns=["order"]).to_string(index=False) + "\n")
    done = df[df["status"] == "COMPLETED"].sort_values("order")
    if done.empty:
        return paths

    fig, ax = plt.subplots(figsize=(7, 4))
    y = done[objective].astype(float).to_numpy()
    best = np.minimum.accumulate(y) if direction == "min" else np.maximum.accumulate(y)
    ax.scatter(done["order"], y, label="trial")
    ax.step(done["order"], best, where="post", color="tab:red", label="best so far")
    failed = df[df["status"] != "COMPLETED"]
    for order in failed["order"]:
        ax.axvline(order, color="0.8", lw=1, zorder=0)
    ax.set(xlabel="trial (start order; grey lines: failed)", ylabel=objective, title=f"{objective} by trial")
    ax.legend()
    fig.tight_layout()
    paths.append(folder / "objective_by_trial.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    ranked = importance(df, params, objective)
    if not ranked.empty:
        top = list(ranked.index[:3])
        fig, axes = plt.subplots(1, 1 + len(top), figsize=(4 * (1 + len(top)), 3.6))
        axes[0].barh(ranked.index[::-1], ranked.to_numpy()[::-1])
        axes[0].set(xlabel="importance (|Spearman| or eta)", title="hyperparameters", xlim=(0, 1))
        by_name = {p.name: p for p in params}
        for ax, name in zip(axes[1:], top, strict=True):
            x = done[name]
            numeric = by_name[name].type in ("float", "int")
            ax.scatter(x.astype(float) if numeric else x.astype(str), y)
            if numeric and by_name[name].sampling == "log":
                ax.set_xscale("log")
            ax.set(xlabel=name, ylabel=objective)
            ax.tick_params(axis="x", labelrotation=30)
        fig.tight_layout()
        paths.append(folder / "hyperparameters.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths


def _ranks(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank().to_numpy()
