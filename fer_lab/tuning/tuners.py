"""Tuners, one registry entry each: the `tuner` config group (conf/tuner/<name>.yaml).

An entry is a KerasTuner tuner class with TrackedTrials mixed in (each trial a nested MLflow run), registered
with a schema that extends TunerConfig by the algorithm's own settings; make_tuner passes those settings to the
class as keyword arguments.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import keras
import keras_tuner
from omegaconf import II, MISSING, DictConfig

from fer_lab.config import direction, to_plain_dict
from fer_lab.errors import FerLabError
from fer_lab.registry import Registry
from fer_lab.tracking.runs import tracked_run
from fer_lab.tuning.distributed import DistributedConfig
from fer_lab.tuning.hypermodel import FerHyperModel
from fer_lab.tuning.search_space import overrides

TRIAL_TAG = "fer_lab.trial_id"

if TYPE_CHECKING:  # the mixin's base for the type checker: the tuner it is mixed into (oracle, run_trial, ...)
    from keras_tuner import Tuner as _MixedInto
else:
    _MixedInto = object


class TrackedTrials(_MixedInto):
    """Tuner mixin: each trial is a child run of the study's parent run, and the session is cleared after it.

    The child run gets the trial's full config as params, the sampled values as `hp.<name>` params, the
    per-epoch metrics (`epoch/<name>`), the best epoch's metrics, and the KerasTuner trial status as the tag
    fer_lab.trial_status (COMPLETED, FAILED or INVALID); its MLflow status is FINISHED, FAILED or KILLED.
    A trial run again after its process died (the oracle hands an interrupted trial back to its tuner id)
    starts a fresh run; the interrupted attempt's run, still RUNNING, is deleted, so each trial has one run.
    """

    hypermodel: FerHyperModel

    def __init__(self, *, study: str, parent_run_id: str, tracking_uri: str, **kwargs):
        self.study, self.parent_run_id, self.tracking_uri = study, parent_run_id, tracking_uri
        self.trial_runs: dict[str, str] = {}
        super().__init__(**kwargs)

    def _populate_initial_space(self):
        # Declare the configured space directly; KerasTuner's default builds a model just to discover it.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def run_trial(self, trial, *args, **kwargs):
        values = dict(trial.hyperparameters.values)
        cfg: DictConfig = self.hypermodel.trial_config(values)
        hp_overrides = overrides(self.hypermodel.params, values)
        run_name = f"{self.study}-trial-{trial.trial_id}"
        self._discard_interrupted_runs(trial.trial_id)
        start = time.perf_counter()
        with tracked_run(cfg, self.tracking_uri, None, hp_overrides, run_name, self.parent_run_id) as run:
            import mlflow

            self.trial_runs[trial.trial_id] = run.info.run_id
            mlflow.set_tags(
                {
                    TRIAL_TAG: trial.trial_id,
                    "fer_lab.study": self.study,
                    "fer_lab.role": "trial",
                    "fer_lab.tuner_id": self.tuner_id,
                }
            )
            mlflow.log_params({f"hp.{k}": v for k, v in values.items()})
            try:
                results = super().run_trial(trial, *args, **kwargs)
            finally:
                keras.backend.clear_session()
                gc.collect()
            metrics = _mean_metrics(results)
            mlflow.log_metrics({**metrics, "trial_seconds": time.perf_counter() - start})
        return results

    def _discard_interrupted_runs(self, trial_id: str) -> None:
        from mlflow import MlflowClient

        from fer_lab.tracking.parent_runs import child_runs

        client = MlflowClient()
        for run in child_runs(
            self.parent_run_id, extra_filter=f"tags.`{TRIAL_TAG}` = '{trial_id}' and attributes.status = 'RUNNING'"
        ):
            client.set_terminated(run.info.run_id, "KILLED")
            client.delete_run(run.info.run_id)
            print(
                f"fer_lab: trial {trial_id} runs again; its interrupted run {run.info.run_id} is deleted "
                "(restore it from the MLflow UI's deleted runs)",
                flush=True,
            )

    def on_trial_end(self, trial):
        try:
            super().on_trial_end(trial)  # the oracle settles the status (and may stop the study)
        finally:
            self._tag_trial_run(trial)

    def _tag_trial_run(self, trial) -> None:
        run_id = self.trial_runs.pop(trial.trial_id, None)
        if run_id is None:
            return
        from mlflow import MlflowClient

        client = MlflowClient()
        client.set_tag(run_id, "fer_lab.trial_status", str(trial.status))
        if trial.message:
            client.log_text(run_id, trial.message, "trial_error.txt")
            last = trial.message.strip().splitlines()[-1]
            print(f"fer_lab: trial {trial.trial_id} {trial.status}: {last}", flush=True)


TUNERS: Registry[type[TrackedTrials]] = Registry("tuner", "name")


@dataclass
class TunerConfig:
    """Settings every tuner shares. Their values (and what each means) are in conf/tune.yaml's `tuner:` block,
    so they are MISSING here: the schema gives their types, and a tuner's YAML leaves them as they are."""

    name: str = MISSING
    objective: str = MISSING
    max_trials: int = MISSING  # an algorithm without a budget in trials of its own may make it Optional
    trial_epochs: int = MISSING
    trial_train_fraction: float | None = MISSING
    study: str | None = MISSING
    overwrite: bool = MISSING
    seed: int = MISSING
    executions_per_trial: int = MISSING
    max_consecutive_failed_trials: int = MISSING
    retrain: bool = MISSING
    distributed: DistributedConfig = field(default_factory=DistributedConfig)


SHARED_KEYS = frozenset(f.name for f in fields(TunerConfig))


@dataclass
class RandomConfig(TunerConfig):
    """Random search has the shared settings only."""


@TUNERS.register("random", RandomConfig)
class TrackedRandomSearch(TrackedTrials, keras_tuner.RandomSearch):
    pass


@dataclass
class BayesianConfig(TunerConfig):
    num_initial_points: int | None = None
    alpha: float = 1.0e-4
    beta: float = 2.6


@TUNERS.register("bayesian", BayesianConfig)
class TrackedBayesianOptimization(TrackedTrials, keras_tuner.BayesianOptimization):
    pass


@dataclass
class HyperbandConfig(TunerConfig):
    max_trials: int | None = None  # type: ignore[assignment]  # optional here: Hyperband has a budget of its own
    max_epochs: int = II(".trial_epochs")
    factor: int = 3
    hyperband_iterations: int = 1


@TUNERS.register("hyperband", HyperbandConfig)
class TrackedHyperband(TrackedTrials, keras_tuner.Hyperband):
    """Hyperband's own schedule decides the trials; max_trials, when set, caps them."""

    def __init__(self, *, max_trials: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if max_trials:
            self.oracle.max_trials = max_trials


def check_tuner(tcfg: DictConfig) -> DictConfig:
    """The tuner config, resolved and checked against its algorithm's schema before any state exists."""
    tcfg = TUNERS.config(to_plain_dict(tcfg))
    if tcfg.max_trials is not None and tcfg.max_trials < 1:
        raise FerLabError(f"tuner.max_trials={tcfg.max_trials} must be an integer >= 1")
    if not str(tcfg.objective).startswith("val_"):
        raise FerLabError(
            f"tuner.objective={tcfg.objective} is not a validation metric: trials are scored on the "
            "validation split only (val_macro_f1, val_accuracy, val_loss), never on test data"
        )
    fraction = tcfg.trial_train_fraction
    if fraction is not None and not 0 < fraction <= 1:
        raise FerLabError(f"tuner.trial_train_fraction={fraction} must lie in (0, 1] (or null for all images)")
    return tcfg


def make_tuner(
    tcfg: DictConfig,
    hypermodel: FerHyperModel,
    directory: str,
    project_name: str,
    parent_run_id: str,
    tracking_uri: str,
):
    """The tuner `tcfg` (checked by check_tuner) names, over `hypermodel`, with its state in
    <directory>/<project_name>. The algorithm gets its own settings (its schema's fields beyond TunerConfig's;
    null keeps KerasTuner's default) and max_trials."""
    algorithm = {str(k): v for k, v in tcfg.items() if k not in SHARED_KEYS and v is not None}
    return TUNERS[tcfg.name](
        study=project_name,
        parent_run_id=parent_run_id,
        tracking_uri=tracking_uri,
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(str(tcfg.objective), direction(tcfg.objective)),
        directory=directory,
        project_name=project_name,
        overwrite=False,
        seed=int(tcfg.seed),
        executions_per_trial=int(tcfg.executions_per_trial),
        max_consecutive_failed_trials=int(tcfg.max_consecutive_failed_trials),
        max_trials=tcfg.max_trials,
        **algorithm,
    )


def _mean_metrics(results) -> dict[str, float]:
    """The mean over executions of each trial metric (fit returns one dict per execution)."""
    results = results if isinstance(results, list) else [results]
    keys = set.intersection(*(set(r) for r in results))
    return {k: sum(float(r[k]) for r in results) / len(results) for k in sorted(keys)}
