"""`python -m fer_lab.calibrate model_uri=... data.path=...`: fit a model's temperatures on its validation rows and
store them with the model, so that predict, live, the app and serve_request serve calibrated probabilities.

One temperature is fitted per TTA mode (none, flip, crops: a model is served at each, and they are not equally
confident) by minimising the validation NLL at that mode; the expected calibration error of val and test is reported
before and after (test rows only measure, never fit). Where the temperatures go:

- `bundled`: the bundled model's metadata (model.json) and its card (MODEL_CARD.md);
- models:/<name>/<version> or models:/<name>@<alias>: a new version of <name>, the same weights with the
  temperatures in their metadata, carrying the accuracy metrics and validation fingerprint of the source's run (a
  temperature leaves every prediction's class as it is); promote it to serve it;
- runs:/<run id>/model or an MLflow model folder: the model logged again by the calibrate run, unregistered.

The calibrate run logs <mode>_temperature, <split>_<mode>_ece_before, <split>_<mode>_ece (and _nll),
figures/reliability_<split>_<mode>.png and reports/risk_coverage.txt (at SERVING_TTA: the accuracy of the faces
answered at each `uncertain_below` threshold).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import hydra
import numpy as np
from omegaconf import DictConfig

import fer_lab.data  # noqa: F401  (the data sources' config schemas: the group calibrate composes)
from fer_lab.command_line import checked_overrides
from fer_lab.config import TTA_MODES, Tta
from fer_lab.errors import FerLabError, print_note, report_user_errors

SERVING_TTA = Tta.crops.value
"""The TTA predict, live and the app serve by default: the mode of the risk-coverage table."""


@dataclass(frozen=True)
class SplitCalibration:
    """One split's calibration before and after the temperature of one TTA mode."""

    name: str
    origin: str
    rows: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float

    def summary(self) -> str:
        return (
            f"{self.name} ({self.origin}, {self.rows} rows): ECE {self.ece_before:.4f} -> {self.ece_after:.4f}, "
            f"NLL {self.nll_before:.4f} -> {self.nll_after:.4f}"
        )


@dataclass(frozen=True)
class ModeCalibration:
    """The temperature fitted at one TTA mode and each split's calibration before and after it."""

    tta: str
    temperature: float
    splits: list[SplitCalibration]


def calibrate(
    tta: str, probs: dict[str, np.ndarray], labels: dict[str, np.ndarray], origins: dict[str, str]
) -> ModeCalibration:
    """The temperature fitted on probs["val"] and each split's calibration, for class probabilities (N, K) at TTA
    mode `tta` and true classes (N,) by split name."""
    from fer_lab.evaluation.calibration import expected_calibration_error, fit_temperature, negative_log_likelihood
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
            )
        )
    return ModeCalibration(tta, temperature, splits)


def run(cfg: DictConfig, command: str) -> tuple[list[ModeCalibration], str, str]:
    """Fit and store the temperatures of cfg.model_uri (null: the champion, else the bundled model); returns each
    mode's calibration, the risk-coverage tables at SERVING_TTA and where the temperatures went. `command` is the
    command line, for the bundled model's card."""
    import mlflow

    from fer_lab.data import load_dataset
    from fer_lab.evaluation.calibration import ECE_BINS
    from fer_lab.evaluation.held_out import model_training_run, require_honest_split, split_to_score
    from fer_lab.evaluation.tta import predict_with_tta
    from fer_lab.inference.catalog import default_model_uri
    from fer_lab.inference.loading import load_model
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.runs import ensure_experiment

    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    uri = str(cfg.model_uri or default_model_uri(tracking_uri))
    if uri.endswith(".keras"):
        raise FerLabError(
            f"{uri} is a bare .keras file, with no metadata to keep a temperature in: calibrate the model logged "
            "by `python -m fer_lab.train` (models:/..., runs:/...) or `bundled`"
        )
    model, meta = load_model(uri, tracking_uri)
    source_run = model_training_run(uri)
    data = load_dataset(cfg.data, seed=cfg.seed)
    names = ["val"] + (["test"] if data.test is not None and len(data.test) else [])
    splits = [split_to_score(data, name, uri, meta) for name in names]
    for split in splits:
        print_note(require_honest_split(split, uri, source_run, cfg))
    labels, origins = {s.name: s.labels for s in splits}, {s.name: s.origin for s in splits}
    probs = {
        mode: {s.name: predict_with_tta(model, s.x, mode, crop_fraction=cfg.crop_fraction) for s in splits}
        for mode in TTA_MODES
    }
    modes = [calibrate(mode, probs[mode], labels, origins) for mode in TTA_MODES]
    temperatures = {m.tta: m.temperature for m in modes}
    with mlflow.start_run(
        experiment_id=ensure_experiment(cfg.mlflow.experiment, tracking_uri), run_name=f"calibrate-{meta.model_name}"
    ) as active:
        mlflow.log_params({"model_uri": uri, "seed": cfg.seed, "data.source": data.source})
        for m in modes:
            mlflow.log_metric(f"{m.tta}_temperature", m.temperature)
            for r in m.splits:
                mlflow.log_metrics({f"{r.name}_{m.tta}_ece_before": r.ece_before, f"{r.name}_{m.tta}_ece": r.ece_after})
                mlflow.log_metrics({f"{r.name}_{m.tta}_nll_before": r.nll_before, f"{r.name}_{m.tta}_nll": r.nll_after})
        _log_figures(splits, probs, temperatures)
        coverage = _coverage_tables(probs[SERVING_TTA], labels, origins, temperatures[SERVING_TTA])
        mlflow.log_text(coverage + "\n", "reports/risk_coverage.txt")
        card = {
            "bins": ECE_BINS,
            "command": command,
            "run_id": active.info.run_id,
            "modes": {
                m.tta: {
                    "temperature": round(m.temperature, 4),
                    **{f"{r.name}_ece_before": round(r.ece_before, 4) for r in m.splits},
                    **{f"{r.name}_ece_after": round(r.ece_after, 4) for r in m.splits},
                }
                for m in modes
            },
        }
        stored = _store(uri, model, replace(meta, temperatures=temperatures), card, source_run, splits[0].x[:4])
    return modes, coverage, stored


def _coverage_tables(
    probs: dict[str, np.ndarray], labels: dict[str, np.ndarray], origins: dict[str, str], temperature: float
) -> str:
    """Each split's risk-coverage table at SERVING_TTA, after its temperature."""
    from fer_lab.evaluation.calibration import coverage_table, risk_coverage
    from fer_lab.tracking.model_io import apply_temperature

    return "\n\n".join(
        f"{name} ({origins[name]}), tta={SERVING_TTA} after scaling:\n"
        + coverage_table(risk_coverage(apply_temperature(p, temperature), labels[name]))
        for name, p in probs.items()
    )


def _log_figures(splits, probs: dict[str, dict[str, np.ndarray]], temperatures: dict[str, float]) -> None:
    """figures/reliability_<split>_<mode>.png: each split at each TTA mode, before and after its temperature."""
    import tempfile
    from pathlib import Path

    import mlflow

    from fer_lab.evaluation.plots import plot_reliability
    from fer_lab.tracking.model_io import apply_temperature

    with tempfile.TemporaryDirectory() as tmp:
        for mode, t in temperatures.items():
            for s in splits:
                p = probs[mode][s.name]
                curves = {"before": p, f"T = {t:.3f}": apply_temperature(p, t)}
                title = f"{s.name} split: {s.origin}, tta={mode}"
                figure = plot_reliability(s.labels, curves, title, Path(tmp) / f"reliability_{s.name}_{mode}.png")
                mlflow.log_artifact(str(figure), "figures")


def _store(uri: str, model, meta, card: dict, source_run, sample_x: np.ndarray) -> str:
    """Keep the temperatures of `meta` with the model at `uri` (see the module docstring); says where they went."""
    import mlflow

    from fer_lab.inference.bundled import BUNDLED_DIR, BUNDLED_URI, write_calibration
    from fer_lab.tracking.model_io import log_keras_model
    from fer_lab.tracking.registry import VAL_FINGERPRINT_TAG

    if uri == BUNDLED_URI:
        write_calibration(meta.temperatures, card)
        return f"wrote them into the bundled model's metadata and card ({BUNDLED_DIR})"
    mlflow.set_tag("fer_lab.calibrated_from", uri)
    if source_run is not None:
        if VAL_FINGERPRINT_TAG in source_run.data.tags:
            mlflow.set_tag(VAL_FINGERPRINT_TAG, source_run.data.tags[VAL_FINGERPRINT_TAG])
        scores = source_run.data.metrics.items()  # of the predicted classes, which a temperature leaves as they are
        mlflow.log_metrics(
            {k: v for k, v in scores if k.startswith(("val_", "test_")) and "_ece" not in k and "_nll" not in k}
        )
    name = uri.removeprefix("models:/").split("/")[0].split("@")[0] if uri.startswith("models:/") else None
    info = log_keras_model(model, meta, sample_x, registered_name=name)
    if name:
        version = info.registered_model_version
        return (
            f"logged the model with them as models:/{name}/{version}; serve it with "
            f"`python -m fer_lab.promote --name {name} --version {version}`"
        )
    return f"logged the model with them as {info.model_uri}"


@checked_overrides("calibrate")
@hydra.main(version_base="1.3", config_path="../conf", config_name="calibrate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra")]
    modes, coverage, stored = run(cfg, " ".join(["python -m fer_lab.calibrate", *overrides]))
    for m in modes:
        print(f"fer_lab: temperature {m.temperature:.4f} fitted on val at tta={m.tta}")
        for r in m.splits:
            print(f"fer_lab:   {r.summary()}")
    print(f"fer_lab: faces answered at each uncertain_below, at tta={SERVING_TTA} (the default of predict, live, app):")
    print(coverage)
    print(f"fer_lab: {stored}")


if __name__ == "__main__":
    main()
