"""`python -m fer_lab.compare A B [C ...] [overrides]`: models scored on the same rows of one split, every model
after the first against the first (paired bootstrap intervals, McNemar's exact test, per-class recall deltas).

A, B, ... are model URIs (bundled, models:/name/3, models:/name@alias, runs:/<id>/model, a .keras file); the
arguments holding `=` are Hydra overrides of conf/compare.yaml: tta=[crops,none] gives each model its own TTA.
The tables and a figure are logged to MLflow (experiment `compare`)."""

from __future__ import annotations

import argparse
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import DictConfig, OmegaConf

from fer_lab.command_line import check_overrides, compose_config
from fer_lab.config import TTA_MODES, require
from fer_lab.errors import FerLabError, print_note, report_user_errors
from fer_lab.evaluation.intervals import LEVEL, RESAMPLES, Interval, mcnemar_p, paired_differences

if TYPE_CHECKING:
    from fer_lab.data import Split
    from fer_lab.evaluation.metrics import SplitReport

LETTERS = string.ascii_uppercase
METRICS = {"accuracy": "accuracy", "macro_f1": "macro-F1"}  # metric -> its title
CI = f"[{LEVEL:.0%} CI]"


@dataclass(frozen=True)
class Scored:
    """One model of a comparison: its letter, URI and TTA mode, and its report on the split."""

    letter: str
    uri: str
    tta: str
    report: SplitReport


@dataclass(frozen=True)
class Difference:
    """A model minus the first model, on the same rows."""

    letter: str
    accuracy: float
    macro_f1: float
    intervals: dict[str, Interval]  # accuracy, macro_f1 -> paired bootstrap interval of the difference
    p_value: float  # McNemar's exact test
    only_first: int  # rows the first model gets right and this one wrong
    only_this: int  # rows this model gets right and the first one wrong
    recall: dict[str, float]  # class -> change in recall


@dataclass(frozen=True)
class Comparison:
    """Models scored on the same rows of one split, and each after the first against the first."""

    split: str
    origin: str
    rows: int
    groups: int | None  # persons the bootstrap resamples (None: it resamples rows)
    class_names: tuple[str, ...]
    models: tuple[Scored, ...]
    differences: tuple[Difference, ...]

    def tables(self) -> str:
        """The models' scores, the differences against the first and per-class recall, as markdown."""
        first = self.models[0].letter
        resampled = f"the {self.groups} persons" if self.groups else "rows"
        heading = (
            f"{self.split} split ({self.origin}): the same {self.rows} rows for every model; "
            f"{LEVEL:.0%} bootstrap intervals from {RESAMPLES} resamples of {resampled}, paired for the differences"
        )
        scores = _markdown(
            ["model", "URI", "tta", *(f"{title} {CI}" for title in METRICS.values())],
            [
                [
                    m.letter,
                    m.uri,
                    m.tta,
                    *(_with_interval(getattr(m.report, k), m.report.intervals[k]) for k in METRICS),
                ]
                for m in self.models
            ],
        )
        differences = _markdown(
            [
                f"vs {first}",
                *(f"Δ {title} {CI}" for title in METRICS.values()),
                "McNemar p",
                f"only {first} right",
                "only it right",
            ],
            [
                [
                    d.letter,
                    *(_with_interval(getattr(d, k), d.intervals[k], "+") for k in METRICS),
                    f"{d.p_value:.3g}",
                    str(d.only_first),
                    str(d.only_this),
                ]
                for d in self.differences
            ],
        )
        recall = _markdown(
            ["class", "support", f"recall {first}", *(f"{d.letter} - {first}" for d in self.differences)],
            [
                [
                    name,
                    str(self.models[0].report.per_class[name]["support"]),
                    f"{self.models[0].report.per_class[name]['recall']:.4f}",
                    *(f"{d.recall[name]:+.4f}" for d in self.differences),
                ]
                for name in self.class_names
            ],
        )
        return f"{heading}\n\n{scores}\n\n{differences}\n\nPer-class recall:\n\n{recall}\n"

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics: A_accuracy, A_accuracy_ci_low, ..., B_minus_A_macro_f1_ci_high, B_vs_A_mcnemar_p,
        B_minus_A_recall_<class>."""
        flat: dict[str, float] = {}
        for m in self.models:
            for name in METRICS:
                flat[f"{m.letter}_{name}"] = getattr(m.report, name)
                interval = m.report.intervals[name]
                flat[f"{m.letter}_{name}_ci_low"], flat[f"{m.letter}_{name}_ci_high"] = interval.low, interval.high
        first = self.models[0].letter
        for d in self.differences:
            prefix = f"{d.letter}_minus_{first}"
            for name in METRICS:
                flat[f"{prefix}_{name}"] = getattr(d, name)
                flat[f"{prefix}_{name}_ci_low"], flat[f"{prefix}_{name}_ci_high"] = (
                    d.intervals[name].low,
                    d.intervals[name].high,
                )
            flat[f"{d.letter}_vs_{first}_mcnemar_p"] = d.p_value
            flat.update({f"{prefix}_recall_{name}": change for name, change in d.recall.items()})
        return flat

    def plot(self):
        """A matplotlib figure: per-class recall of every model, and the differences against the first with their
        intervals."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (recall, diffs) = plt.subplots(
            1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 1 + len(self.differences)]}
        )
        width = 0.8 / len(self.models)
        for i, m in enumerate(self.models):
            values = [m.report.per_class[name]["recall"] for name in self.class_names]
            offsets = np.arange(len(self.class_names)) + (i - (len(self.models) - 1) / 2) * width
            recall.bar(offsets, values, width, label=f"{m.letter}: {m.uri} (tta={m.tta})")
        recall.set_xticks(range(len(self.class_names)), self.class_names, rotation=30, ha="right")
        recall.set_ylim(0, 1)
        recall.set_ylabel("recall")
        recall.set_title(f"{self.split} split ({self.origin}), {self.rows} rows", fontsize=9)
        recall.legend(fontsize=7)
        first = self.models[0].letter
        for j, (name, title) in enumerate(METRICS.items()):
            x = np.arange(len(self.differences)) + (j - 0.5) * 0.3
            changes = [getattr(d, name) for d in self.differences]
            errors = [  # a percentile interval may miss its point estimate: clipped, as matplotlib wants
                [max(v - d.intervals[name].low, 0.0) for v, d in zip(changes, self.differences, strict=True)],
                [max(d.intervals[name].high - v, 0.0) for v, d in zip(changes, self.differences, strict=True)],
            ]
            diffs.errorbar(x, changes, yerr=errors, fmt="o", capsize=4, label=title)
        diffs.axhline(0, color="grey", linewidth=0.8)
        diffs.set_xticks(range(len(self.differences)), [f"{d.letter} - {first}" for d in self.differences])
        diffs.set_xlim(-0.6, len(self.differences) - 0.4)
        diffs.set_title(f"difference, {LEVEL:.0%} paired bootstrap interval", fontsize=9)
        diffs.legend(fontsize=7)
        fig.tight_layout()
        return fig


def compare_predictions(
    split: Split, class_names: Sequence[str], uris: Sequence[str], ttas: Sequence[str], preds: Sequence[np.ndarray]
) -> Comparison:
    """The Comparison of models `uris` (with TTA modes `ttas`) whose predicted classes on the rows of `split` are
    `preds`; with groups on the split (persons), the bootstrap resamples groups."""
    from fer_lab.evaluation.metrics import score_predictions

    truth = split.labels
    names = tuple(class_names)
    models = tuple(
        Scored(
            LETTERS[i],
            uri,
            tta,
            score_predictions(truth, pred, names, split=split.name, origin=split.origin, tta=tta, groups=split.groups),
        )
        for i, (uri, tta, pred) in enumerate(zip(uris, ttas, preds, strict=True))
    )
    first = models[0].report
    differences = tuple(
        Difference(
            m.letter,
            m.report.accuracy - first.accuracy,
            m.report.macro_f1 - first.macro_f1,
            paired_differences(truth, first.pred, m.report.pred, len(names), split.groups),
            mcnemar_p(truth, first.pred, m.report.pred),
            int(np.sum((first.pred == truth) & (m.report.pred != truth))),
            int(np.sum((first.pred != truth) & (m.report.pred == truth))),
            {name: m.report.per_class[name]["recall"] - first.per_class[name]["recall"] for name in names},
        )
        for m in models[1:]
    )
    groups = None if split.groups is None else len(np.unique(split.groups))
    return Comparison(split.name, split.origin, len(split), groups, names, models, differences)


def compare_and_log(cfg: DictConfig, uris: Sequence[str]) -> tuple[Comparison, str, str]:
    """Score the models `uris` on `cfg.split` of `cfg.data` and log the comparison to MLflow: (the comparison, its
    run id, the tracking URI)."""
    import matplotlib.pyplot as plt
    import mlflow

    from fer_lab.data import load_dataset
    from fer_lab.evaluation.held_out import model_training_run, require_honest_split, split_to_score
    from fer_lab.evaluation.tta import predict_with_tta
    from fer_lab.inference.loading import load_model
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.runs import ensure_experiment

    require(cfg.split in ("val", "test"), "split", cfg.split, "val or test")
    ttas = _tta_modes(cfg.tta, len(uris))
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    models = {uri: load_model(uri, tracking_uri) for uri in dict.fromkeys(uris)}
    data = load_dataset(cfg.data, seed=cfg.seed)
    for note in data.notes:
        print_note(note)
    for uri, (_, meta) in models.items():  # the same split for all, refused if it does not fit one of them
        split = split_to_score(data, cfg.split, uri, meta)
        print_note(require_honest_split(split, uri, model_training_run(uri), cfg))
    probs = {}
    for i, (uri, tta) in enumerate(zip(uris, ttas, strict=True)):
        if (uri, tta) not in probs:
            print(f"fer_lab: {LETTERS[i]} = {uri}, tta={tta}: predicting {len(split)} {cfg.split} rows")
            probs[uri, tta] = predict_with_tta(models[uri][0], split.x, tta, crop_fraction=cfg.crop_fraction)
    preds = [np.argmax(probs[uri, tta], axis=1) for uri, tta in zip(uris, ttas, strict=True)]
    comparison = compare_predictions(split, data.class_names, uris, ttas, preds)
    with mlflow.start_run(
        experiment_id=ensure_experiment(str(cfg.mlflow.experiment), tracking_uri), run_name=f"compare-{cfg.split}"
    ) as run:
        mlflow.log_params(
            {
                "models": " ".join(uris),
                "split": cfg.split,
                "tta": " ".join(ttas),
                "seed": cfg.seed,
                "crop_fraction": cfg.crop_fraction,
                "data.source": data.source,
            }
        )
        mlflow.log_metrics(comparison.metrics())
        mlflow.log_text(comparison.tables(), "compare/comparison.md")
        figure = comparison.plot()
        mlflow.log_figure(figure, "compare/comparison.png")
        plt.close(figure)
    return comparison, run.info.run_id, tracking_uri


@report_user_errors
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.compare", description=__doc__)
    parser.add_argument("args", nargs="*", metavar="MODEL_URI | key=value")
    args = parser.parse_args(argv).args
    overrides = [a for a in args if "=" in a]
    uris = [a for a in args if "=" not in a]
    check_overrides("compare", overrides, keys_hint="conf/compare.yaml and its data group hold every key")
    if not 2 <= len(uris) <= len(LETTERS):
        raise FerLabError(
            f"compare takes 2 to {len(LETTERS)} model URIs, got {len(uris)} ({' '.join(uris) or 'none'}): e.g. "
            "`python -m fer_lab.compare bundled models:/fer_lab@champion split=test`"
        )
    comparison, run_id, tracking_uri = compare_and_log(compose_config("compare", overrides), uris)
    print(comparison.tables())
    print(f"fer_lab: logged as MLflow run {run_id} in {tracking_uri}")


def _tta_modes(value, n: int) -> list[str]:
    """One TTA mode per model: `value` for all, or the list `value` of n modes."""
    listed = OmegaConf.is_list(value)
    modes = [str(mode) for mode in value] if listed else [str(value)] * n
    require(
        len(modes) == n and all(mode in TTA_MODES for mode in modes),
        "tta",
        modes if listed else value,
        f"{' | '.join(TTA_MODES)}, or a list of {n} of them (one per model, e.g. tta=[crops,none])",
    )
    return modes


def _with_interval(value: float, interval: Interval, sign: str = "") -> str:
    return f"{value:{sign}.4f} {interval}"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join(f"| {' | '.join(cells)} |" for cells in lines)


if __name__ == "__main__":
    main()
