"""The study pipeline: check the setup, search (alone, as chief or as worker), summarise, retrain the best."""

from __future__ import annotations

import copy
import json
import os
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from fer_lab.errors import FerLabError
from fer_lab.tracking import configure_tracking
from fer_lab.tracking.parent_runs import ROLE_TAG, child_runs, parent_run
from fer_lab.training.checks import validate_train_config
from fer_lab.tuning import distributed
from fer_lab.tuning.search_space import HyperParam, apply, declare, overrides, parse_space
from fer_lab.tuning.study import Study, StudyRecord, study_name
from fer_lab.tuning.summary import trial_table, write_summary

STUDY_TAG = "fer_lab.study"
CHIEF_TAG = "fer_lab.chief"  # ip:port of the chief serving a distributed study
_OWN_OVERRIDES = ("tuner", "search_space", "+search_space", "~search_space", "hydra")


@dataclass(frozen=True)
class StudyResult:
    name: str
    path: Path
    parent_run_id: str
    best_trial: str | None
    best_value: float | None
    best_overrides: tuple[str, ...]
    retrain_run_id: str | None
    model_version: str | None


def run_study(
    cfg: DictConfig,
    cli_overrides: Sequence[str] = (),
    model_choice: str | None = None,
    parent_run_id: str | None = None,
) -> StudyResult | None:
    """Run (or resume) the study `cfg` describes; a worker returns None once the chief has no trial left."""
    from fer_lab.tuning.tuners import check_tuner

    tcfg = check_tuner(cfg.tuner)
    role = distributed.configure_role(tcfg.distributed)
    params = parse_space(cfg)
    base = train_config(cfg, epochs=tcfg.trial_epochs)
    _check_objective(base, str(tcfg.objective))
    _check_candidates(base, params)
    study = Study(cfg.paths.root, study_name(cfg, model_choice))
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    if role == "worker":
        _work(cfg, tcfg, base, params, study, tracking_uri)
        return None
    data = None if role == "chief" else _load_data(cfg)  # before any state: a bad data config leaves none
    study.lock()
    record = study.open(cfg, overwrite=bool(tcfg.overwrite))
    user_overrides = [o for o in cli_overrides if not o.lstrip("+~").split("=")[0].startswith(_OWN_OVERRIDES)]
    tags = {
        ROLE_TAG: "study",
        STUDY_TAG: study.name,
        **({CHIEF_TAG: f"{tcfg.distributed.ip}:{tcfg.distributed.port}"} if role == "chief" else {}),
    }
    with parent_run(
        str(cfg.mlflow.experiment), tracking_uri, f"study-{study.name}", tags, cfg, record.parent_run_id, parent_run_id
    ) as parent:
        record.parent_run_id, record.tracking_uri = parent, tracking_uri
        study.save(record)
        tuner = _tuner(tcfg, base, params, data, study, parent, tracking_uri)
        _print_start(study, tuner, params, role)
        _search(tuner, role, tcfg)
        best = _summarise(tuner, params, str(tcfg.objective), parent)
        if best is not None and tcfg.retrain and record.retrained_trial != best.trial_id:
            _retrain(cfg, params, best, study, record, parent, user_overrides)
    result = StudyResult(
        study.name,
        study.path,
        parent,
        best and best.trial_id,
        best and best.score,
        tuple(overrides(params, best.hyperparameters.values)) if best else (),
        record.retrain_run_id,
        record.model_version,
    )
    _print_result(result, cfg, user_overrides)
    return result


def train_config(cfg: DictConfig, epochs: int | None = None) -> DictConfig:
    """The study config, resolved, as a train config: no tuner/search_space, trainer.monitor = the objective."""
    out = copy.deepcopy(cfg)
    OmegaConf.resolve(out)
    with open_dict(out):
        out.trainer.monitor = str(out.tuner.objective)
        if epochs:
            out.trainer.epochs = int(epochs)
        del out["tuner"], out["search_space"]
    return out


def _check_objective(base: DictConfig, objective: str) -> None:
    from fer_lab.tuning.hypermodel import logged_metrics

    logged = logged_metrics(base)
    if objective not in logged:
        raise FerLabError(
            f"tuner.objective={objective} is never logged by a trial: choose one of "
            f"{', '.join(sorted(logged))} (validation metrics only: selection never uses test data)"
        )


def _check_candidates(base: DictConfig, params: list[HyperParam]) -> None:
    """Every choice (and both ends of every range) must give a valid train config before any trial runs."""
    for p in params:
        for value in p.candidates():
            try:
                validate_train_config(apply(base, [p], {p.name: value}))
            except FerLabError as err:
                raise FerLabError(f"search_space.{p.name}={value!r} makes an invalid config: {err}") from None


def _load_data(cfg: DictConfig):
    """The study's data; with tuner.trial_train_fraction, trials see a stratified share of the training split."""
    import dataclasses

    from fer_lab.data import load_dataset
    from fer_lab.data.splits import stratified_sample

    data = load_dataset(cfg.data, seed=cfg.seed)
    fraction = cfg.tuner.trial_train_fraction
    if fraction is None or fraction == 1:
        return data
    rows = stratified_sample(data.train.labels, float(fraction), cfg.seed)
    train = dataclasses.replace(
        data.train,
        x=data.train.x[rows],
        y=data.train.y[rows],
        origin=f"{data.train.origin}, stratified {fraction:g} for the search",
    )
    print(
        f"fer_lab: trials train on {len(train)} of {len(data.train)} training images "
        f"(tuner.trial_train_fraction={fraction:g}); the retrain uses all of them",
        flush=True,
    )
    return dataclasses.replace(data, train=train)


def _tuner(tcfg: DictConfig, base, params, data, study: Study, parent: str, tracking_uri: str):
    from fer_lab.tuning.hypermodel import FerHyperModel
    from fer_lab.tuning.tuners import make_tuner

    tuner_id = os.environ.get(distributed.ENV_ID, "tuner0")
    hypermodel = FerHyperModel(base, params, data, study.path / f"fit_{tuner_id}")
    try:
        return make_tuner(tcfg, hypermodel, str(study.path.parent), study.name, parent, tracking_uri)
    except (RuntimeError, ValueError, KeyError, json.JSONDecodeError) as err:
        raise FerLabError(
            f"cannot reload the tuner state in {study.path} ({type(err).__name__}: {err}); "
            "start afresh with tuner.overwrite=true or choose another tuner.study"
        ) from None


def _search(tuner, role: str | None, tcfg: DictConfig) -> None:
    try:
        if role == "chief":
            tuner.save()
            if not distributed.search_is_over(tuner.oracle):
                distributed.serve_oracle(tuner.oracle, str(tcfg.distributed.ip), int(tcfg.distributed.port))
        else:
            tuner.search()
    except RuntimeError as err:
        if "consecutive failures" not in str(err):
            raise
        last = str(err).strip().splitlines()[-1]
        raise FerLabError(
            f"{tcfg.max_consecutive_failed_trials} trials in a row failed (last: {last}); the "
            "failed trials' runs hold the tracebacks. Fix the cause, then start the study afresh "
            "with tuner.overwrite=true"
        ) from None


def _work(cfg, tcfg: DictConfig, base, params, study: Study, tracking_uri: str) -> None:
    """A worker: wait for the chief, find the study's parent run, run trials until the chief says stop."""
    dcfg = tcfg.distributed
    distributed.wait_for_chief(str(dcfg.ip), int(dcfg.port), float(dcfg.connect_timeout_s))
    parent = _find_parent(str(cfg.mlflow.experiment), study.name, tracking_uri, int(dcfg.port))
    tuner = _tuner(tcfg, base, params, _load_data(cfg), study, parent, tracking_uri)
    _check_same_space(tuner, params)
    print(f"fer_lab: worker {tuner.tuner_id} joined study {study.name} at {dcfg.ip}:{dcfg.port}", flush=True)
    tuner.search()
    print(f"fer_lab: worker {tuner.tuner_id}: the chief has no trials left", flush=True)


def _find_parent(experiment: str, name: str, tracking_uri: str, port: int) -> str:
    """The running parent run of study `name`; a clear error when the chief on `port` serves another study."""
    from mlflow import MlflowClient

    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    running = (
        []
        if found is None
        else client.search_runs(
            [found.experiment_id],
            f"tags.`{ROLE_TAG}` = 'study' and attributes.status = 'RUNNING'",
            order_by=["attributes.start_time DESC"],
        )
    )
    ours = [r for r in running if r.data.tags.get(STUDY_TAG) == name]
    if ours:
        return ours[0].info.run_id
    served = [r.data.tags[STUDY_TAG] for r in running if r.data.tags.get(CHIEF_TAG, "").endswith(f":{port}")]
    if served:
        raise FerLabError(
            f"the chief on port {port} runs study {served[0]}, not {name}: start this worker with "
            f"tuner.study={served[0]} and the chief's model and search_space overrides"
        )
    raise FerLabError(
        f"no running study {name} in experiment {experiment} at {tracking_uri}: a worker must log "
        "to the chief's tracking store (mlflow.tracking_uri=http://<tracking server>:5000) and use "
        "the chief's tuner.study and mlflow.experiment"
    )


def _check_same_space(tuner, params: list[HyperParam]) -> None:
    from keras_tuner import HyperParameters

    local = HyperParameters()
    declare(local, params)
    local = HyperParameters.from_proto(local.to_proto())
    chief = tuner.oracle.get_space()
    if chief.get_config()["space"] != local.get_config()["space"]:
        raise FerLabError(
            "this worker's search space differs from the chief's: start workers with the same "
            "model, search_space and search_space.* overrides as the chief"
        )


def _summarise(tuner, params: list[HyperParam], objective: str, parent: str):
    """Log the trials table and plots to the parent run; return the best completed trial (or None)."""
    from mlflow import MlflowClient

    oracle = tuner.oracle
    run_ids = {
        r.data.tags.get("fer_lab.trial_id"): r.info.run_id
        for r in child_runs(parent, extra_filter="tags.`fer_lab.role` = 'trial'")
    }
    direction = oracle.objective.direction
    table = trial_table(oracle.trials, params, objective, direction, run_ids)
    client = MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_summary(table, params, objective, direction, Path(tmp)):
            client.log_artifact(parent, str(path), "summary")
    done = [t for t in oracle.trials.values() if t.status == "COMPLETED"]
    client.log_metric(parent, "trials_completed", len(done))
    client.log_metric(parent, "trials_failed", sum(t.status == "FAILED" for t in oracle.trials.values()))
    if not done:
        print(f"fer_lab: no trial of this study completed; see the failed trials' runs under parent {parent}")
        return None
    sign = 1.0 if direction == "max" else -1.0  # ties go to the earliest trial, so reruns agree
    best = max(done, key=lambda t: (sign * float(t.score), -int(t.trial_id)))
    client.log_metric(parent, f"best_{objective}", float(best.score))
    client.set_tag(parent, "fer_lab.best_trial", best.trial_id)
    client.set_tag(parent, "fer_lab.best_overrides", " ".join(overrides(params, best.hyperparameters.values)))
    if not table.empty:
        shown = table.drop(columns=["order"]).head(10).to_string(index=False)
        print(f"fer_lab: trials by {objective}:\n{shown}", flush=True)
    return best


def _retrain(cfg, params, best, study: Study, record: StudyRecord, parent: str, user_overrides: list[str]) -> None:
    """Train the best configuration with the trainer (full trainer.epochs): evaluate, log, register."""
    from mlflow import MlflowClient

    from fer_lab.training.run import run_training

    values = best.hyperparameters.values
    final = apply(train_config(cfg), params, values)
    with open_dict(final):
        final.mlflow.run_name = f"{study.name}-best"
    print(f"fer_lab: retraining trial {best.trial_id}'s configuration for {final.trainer.epochs} epochs", flush=True)
    summary = run_training(final, overrides=[*user_overrides, *overrides(params, values)], parent_run_id=parent)
    client = MlflowClient()
    client.set_tag(summary.run_id, ROLE_TAG, "retrain")
    client.set_tag(summary.run_id, STUDY_TAG, study.name)
    for report in summary.reports.values():
        for key in ("accuracy", "macro_f1"):
            client.log_metric(parent, f"final_{report.split}_{key}", float(getattr(report, key)))
    record.retrained_trial, record.retrain_run_id = best.trial_id, summary.run_id
    record.model_version = summary.model_version
    study.save(record)


def _print_start(study: Study, tuner, params: list[HyperParam], role: str | None) -> None:
    done = sum(t.status in ("COMPLETED", "FAILED") for t in tuner.oracle.trials.values())
    budget = tuner.oracle.max_trials or "hyperband schedule"
    how = f"as chief at {os.environ.get(distributed.ENV_IP)}" if role == "chief" else "in this process"
    print(
        f"fer_lab: study {study.name} in {study.path}: {type(tuner).__name__}, {len(params)} hyperparameters "
        f"({', '.join(p.name for p in params)}), objective {tuner.oracle.objective.name}, "
        f"{done} of {budget} trials done; running {how}",
        flush=True,
    )


def _print_result(result: StudyResult, cfg: DictConfig, user_overrides: list[str]) -> None:
    if result.best_trial is None:
        return
    print(f"fer_lab: best trial {result.best_trial}: {cfg.tuner.objective}={result.best_value:.4f}")
    command = [*user_overrides, *result.best_overrides, f"trainer.monitor={cfg.tuner.objective}"]
    print("fer_lab: reproduce it with: python -m fer_lab.train " + " ".join(shlex.quote(o) for o in command))
    if result.retrain_run_id:
        version = f", registered version {result.model_version}" if result.model_version else ""
        print(f"fer_lab: retrained run {result.retrain_run_id}{version}")
    print(f"fer_lab: study parent run {result.parent_run_id} (experiment {cfg.mlflow.experiment}; `make ui`)")
