"""Open (or reopen) the MLflow run of a training job and log its configuration and provenance."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import DictConfig, OmegaConf

from fer_lab.config import flatten
from fer_lab.paths import project_root
from fer_lab.tracking.hardware import hardware_tags
from fer_lab.tracking.uri import artifact_root

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # MLflow's UI opens an experiment by its kind: GenAI or model training
MODEL_TRAINING = "custom_model_development"


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """Id of experiment `name`, created with an explicit artifact location if it does not exist, and tagged as model
    training so that MLflow's UI opens it on its runs."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = artifact_root(tracking_uri)
    return mlflow.create_experiment(
        name, artifact_location=f"{location}/{name}" if location else None, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING}
    )


@contextmanager
def tracked_run(
    cfg: DictConfig,
    tracking_uri: str,
    resume_run_id: str | None,
    overrides: list[str],
    run_name: str,
    parent_run_id: str | None = None,
) -> Iterator:
    """Active MLflow run: the interrupted one when `resume_run_id` still exists, else a new one.

    A new run gets the flattened resolved config as params, the YAML and overrides as artifacts, and
    git provenance and hardware tags. The run ends FINISHED, KILLED on Ctrl-C, or FAILED on an error.
    """
    import mlflow

    experiment_id = ensure_experiment(str(cfg.mlflow.experiment), tracking_uri)
    resumable = resume_run_id and _run_exists(resume_run_id, experiment_id)
    if resumable:
        run = mlflow.start_run(run_id=resume_run_id)
        mlflow.set_tag("fer_lab.resumed", "true")
    else:
        run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, parent_run_id=parent_run_id)
        mlflow.log_params(flatten(cfg))
        mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config/resolved.yaml")
        mlflow.log_text("\n".join(overrides) + "\n", "config/overrides.txt")
        mlflow.set_tags({**git_tags(), **hardware_tags()})
    try:
        yield run
    except KeyboardInterrupt:
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    mlflow.end_run("FINISHED")


def git_tags() -> dict[str, str]:
    """git_commit and git_dirty of the project checkout ("unknown" outside git)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=project_root(), capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit or "unknown", "git_dirty": "unknown" if status is None else str(bool(status)).lower()}


def _run_exists(run_id: str, experiment_id: str) -> bool:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_run(run_id).info.experiment_id == experiment_id
    except MlflowException:
        return False
