"""`python -m fer_lab.calibrate model_uri=... data.path=...`: fit a model's temperature on its validation rows and
store it with the model, so that predict, live, the app and serve_request serve calibrated probabilities.

The temperature is fitted at the TTA the model is served with (`tta`, crops by default as in predict, live and the
app) by minimising the validation NLL; the expected calibration error of val and test is reported before and after
(test rows only measure, never fit). Where the temperature goes:

- `bundled`: the bundled model's metadata (model.json) and its card (MODEL_CARD.md);
- models:/<name>/<version> or models:/<name>@<alias>: a new version of <name>, the same weights with the temperature
  in their metadata, carrying the accuracy metrics and validation fingerprint of the source's run (the temperature
  leaves every prediction's class as it is); promote it to serve it;
- runs:/<run id>/model or an MLflow model folder: the model logged again by the calibrate run, unregistered.

The calibrate run logs the temperature, <split>_ece_before, <split>_ece, figures/reliability_<split>.png and
reports/risk_coverage.txt (the accuracy of the faces answered at each `uncertain_below` threshold).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import hydra
import numpy as np
from omegaconf import DictConfig

import fer_lab.data  # noqa: F401  (the data sources' config schemas: the group calibrate composes)
from fer_lab.command_line import checked_overrides
from fer_lab.config import TTA_MODES, require
from fer_lab.errors import FerLabError, report_user_errors

if TYPE_CHECKING:
    from fer_lab.evaluation.calibration import CoverageRow


@dataclass(frozen=True)
class SplitCalibration:
    """One split's calibration before and after the temperature, and its risk-coverage rows after it."""

    name: str
    origin: str
    rows: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    coverage: list[CoverageRow]  # one per RISK_COVERAGE_THRESHOLDS

    def summary(self) -> str:
        return (
            f"{self.name} ({self.origin}, {self.rows} rows): ECE {self.ece_before:.4f} -> {self.ece_after:.4f}, "
            f"NLL {self.nll_before:.4f} -> {self.nll_after:.4f}"
        )


def calibrate(probs: dict[str, np.ndarray], labels: dict[str, np.ndarray], origins: dict[str, str]):
    """(temperature fitted on probs["val"], SplitCalibration of each split) for class probabilities (N, K) and true
    classes (N,) by split name."""
    from fer_lab.evaluation.calibration import (
        expected_calibration_error,
        fit_temperature,
        negative_log_likelihood,
        risk_coverage,
    )
    from fer_lab.tracking.model_io import apply_temperature

    temperature = fit_temperature(probs["val"], labels["val"])
    splits = []
    for name, before in probs.items():
        after, truth = apply_temperature(before, temperature), labels[name]
        splits.append(
            SplitCalibration(
                name,
                origins[name],
                len(truth),
                expected_calibration_error(before, truth),
                expected_calibration_error(after, truth),
                negative_log_likelihood(before, truth),
                negative_log_likelihood(after, truth),
                risk_coverage(after, truth),
            )
        )
    return temperature, splits


def run(cfg: DictConfig, command: str) -> tuple[float, list[SplitCalibration], str]:
    """Fit and store the temperature of cfg.model_uri; returns it, each split's calibration and where it went.
    `command` is the command line, for the bundled model's card."""
    import mlflow

    from fer_lab.data import load_dataset
    from fer_lab.evaluation.calibration import ECE_BINS, coverage_table
    from fer_lab.evaluation.held_out import require_honest_split, split_to_score
    from fer_lab.evaluation.tta import predict_with_tta
    from fer_lab.inference.bundled import BUNDLED_URI
    from fer_lab.inference.loading import load_model
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.model_io import registry_uri, training_run
    from fer_lab.tracking.runs import ensure_experiment

    require(cfg.tta in TTA_MODES, "tta", cfg.tta, " | ".join(TTA_MODES) + " (the TTA the model is served with)")
    uri = str(cfg.model_uri or registry_uri())
    if uri.endswith(".keras"):
        raise FerLabError(
            f"{uri} is a bare .keras file, with no metadata to keep a temperature in: calibrate the model logged "
            "by `python -m fer_lab.train` (models:/..., runs:/...) or `bundled`"
        )
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    model, meta = load_model(uri, tracking_uri)
    source_run = None if uri == BUNDLED_URI else training_run(uri)
    data = load_dataset(cfg.data, seed=cfg.seed)
    names = ["val"] + (["test"] if data.test is not None and len(data.test) else [])
    splits = [split_to_score(data, name, uri, meta) for name in names]
    for split in splits:
        _note(require_honest_split(split, uri, source_run, cfg))
    probs = {s.name: predict_with_tta(model, s.x, cfg.tta, crop_fraction=cfg.crop_fraction) for s in splits}
    temperature, results = calibrate(probs, {s.name: s.labels for s in splits}, {s.name: s.origin for s in splits})
    with mlflow.start_run(
        experiment_id=ensure_experiment(cfg.mlflow.experiment, tracking_uri), run_name=f"calibrate-{meta.model_name}"
    ) as active:
        mlflow.log_params({"model_uri": uri, "tta": cfg.tta, "seed": cfg.seed, "data.source": data.source})
        mlflow.log_metric("temperature", temperature)
        for r in results:
            mlflow.log_metrics({f"{r.name}_ece_before": r.ece_before, f"{r.name}_ece": r.ece_after})
            mlflow.log_metrics({f"{r.name}_nll_before": r.nll_before, f"{r.name}_nll": r.nll_after})
        _log_figures(splits, probs, temperature, cfg.tta)
        mlflow.log_text(
            "\n\n".join(f"{r.name} ({r.origin}), after scaling:\n{coverage_table(r.coverage)}" for r in results) + "\n",
            "reports/risk_coverage.txt",
        )
        card = {
            "temperature": round(temperature, 4),
            "tta": str(cfg.tta),
            "bins": ECE_BINS,
            "command": command,
            "run_id": active.info.run_id,
            **{f"{r.name}_ece_before": round(r.ece_before, 4) for r in results},
            **{f"{r.name}_ece_after": round(r.ece_after, 4) for r in results},
        }
        stored = _store(uri, model, replace(meta, temperature=temperature), card, source_run, splits[0].x[:4])
    return temperature, results, stored


def _log_figures(splits, probs: dict[str, np.ndarray], temperature: float, tta: str) -> None:
    import tempfile
    from pathlib import Path

    import mlflow

    from fer_lab.evaluation.plots import plot_reliability
    from fer_lab.tracking.model_io import apply_temperature

    with tempfile.TemporaryDirectory() as tmp:
        for s in splits:
            curves = {"before": probs[s.name], f"T = {temperature:.3f}": apply_temperature(probs[s.name], temperature)}
            title = f"{s.name} split: {s.origin}, tta={tta}"
            figure = plot_reliability(s.labels, curves, title, Path(tmp) / f"reliability_{s.name}.png")
            mlflow.log_artifact(str(figure), "figures")


def _store(uri: str, model, meta, card: dict, source_run, sample_x: np.ndarray) -> str:
    """Keep the temperature of `meta` with the model at `uri` (see the module docstring); says where it went."""
    import mlflow

    from fer_lab.inference.bundled import BUNDLED_DIR, BUNDLED_URI, write_calibration
    from fer_lab.tracking.model_io import log_keras_model
    from fer_lab.tracking.registry import VAL_FINGERPRINT_TAG

    if uri == BUNDLED_URI:
        write_calibration(meta.temperature, card)
        return f"wrote it into the bundled model's metadata and card ({BUNDLED_DIR})"
    mlflow.set_tag("fer_lab.calibrated_from", uri)
    if source_run is not None:
        if VAL_FINGERPRINT_TAG in source_run.data.tags:
            mlflow.set_tag(VAL_FINGERPRINT_TAG, source_run.data.tags[VAL_FINGERPRINT_TAG])
        scores = source_run.data.metrics.items()  # of the predicted classes, which the temperature leaves as they are
        mlflow.log_metrics(
            {k: v for k, v in scores if k.startswith(("val_", "test_")) and "_ece" not in k and "_nll" not in k}
        )
    name = uri.removeprefix("models:/").split("/")[0].split("@")[0] if uri.startswith("models:/") else None
    info = log_keras_model(model, meta, sample_x, registered_name=name)
    if name:
        version = info.registered_model_version
        return (
            f"logged the model with it as models:/{name}/{version}; serve it with "
            f"`python -m fer_lab.promote --name {name} --version {version}`"
        )
    return f"logged the model with it as {info.model_uri}"


@checked_overrides("calibrate")
@hydra.main(version_base="1.3", config_path="../conf", config_name="calibrate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from fer_lab.evaluation.calibration import coverage_table

    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra")]
    temperature, results, stored = run(cfg, " ".join(["python -m fer_lab.calibrate", *overrides]))
    print(f"fer_lab: temperature {temperature:.4f} fitted on val at tta={cfg.tta}")
    for r in results:
        print(f"fer_lab: {r.summary()}")
    last = results[-1]
    print(f"fer_lab: faces answered on {last.name} at each uncertain_below, after scaling:")
    print(coverage_table(last.coverage))
    print(f"fer_lab: {stored}")


def _note(note: str | None) -> None:
    if note:
        print(f"fer_lab: note: {note}")


if __name__ == "__main__":
    main()
