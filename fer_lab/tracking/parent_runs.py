"""Parent MLflow runs of studies and sweeps, driven through MlflowClient.

A parent stays open while its children run as ordinary (fluent) runs started with parent_run_id, so it
must not sit on MLflow's active-run stack: everything here goes through the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import DictConfig, OmegaConf

from fer_lab.config import flatten
from fer_lab.tracking.runs import ensure_experiment, git_tags

PARENT_TAG = "mlflow.parentRunId"
ROLE_TAG = "fer_lab.role"


def open_parent(
    experiment: str,
    tracking_uri: str,
    run_name: str,
    tags: dict[str, str],
    cfg: DictConfig | None = None,
    resume_run_id: str | None = None,
    parent_run_id: str | None = None,
) -> str:
    """Reopen `resume_run_id` if it still exists in `experiment`, else create a parent run; return its id.

    A new run gets `cfg` flattened as params and as YAML, git provenance and `tags`; a reopened one `tags`.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Param

    client = MlflowClient()
    experiment_id = ensure_experiment(experiment, tracking_uri)
    if resume_run_id and _live_run(client, resume_run_id, experiment_id):
        client.update_run(resume_run_id, status="RUNNING")
        for key, value in {**tags, "fer_lab.resumed": "true"}.items():
            client.set_tag(resume_run_id, key, value)
        return resume_run_id
    all_tags = {**git_tags(), **tags, **({PARENT_TAG: parent_run_id} if parent_run_id else {})}
    run_id = client.create_run(experiment_id, run_name=run_name, tags=all_tags).info.run_id
    if cfg is not None:
        client.log_batch(run_id, params=[Param(k, v[:6000]) for k, v in flatten(cfg).items()])
        client.log_text(run_id, OmegaConf.to_yaml(cfg, resolve=True), "config/resolved.yaml")
    return run_id


def close_parent(run_id: str, status: str) -> None:
    """End the parent run with status FINISHED, FAILED or KILLED."""
    from mlflow import MlflowClient

    MlflowClient().set_terminated(run_id, status)


@contextmanager
def parent_run(
    experiment: str,
    tracking_uri: str,
    run_name: str,
    tags: dict[str, str],
    cfg: DictConfig | None = None,
    resume_run_id: str | None = None,
    parent_run_id: str | None = None,
) -> Iterator[str]:
    """open_parent ... close_parent: FINISHED, KILLED on Ctrl-C, FAILED on an error."""
    run_id = open_parent(experiment, tracking_uri, run_name, tags, cfg, resume_run_id, parent_run_id)
    try:
        yield run_id
    except KeyboardInterrupt:
        close_parent(run_id, "KILLED")
        raise
    except BaseException:
        close_parent(run_id, "FAILED")
        raise
    close_parent(run_id, "FINISHED")


def child_runs(parent_id: str, experiment_ids: list[str] | None = None, extra_filter: str = "") -> list:
    """Runs whose parent is `parent_id` (oldest first)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    if experiment_ids is None:
        experiment_ids = [client.get_run(parent_id).info.experiment_id]
    query = f"tags.`{PARENT_TAG}` = '{parent_id}'" + (f" and {extra_filter}" if extra_filter else "")
    return client.search_runs(experiment_ids, query, order_by=["attributes.start_time ASC"], max_results=5000)


def _live_run(client, run_id: str, experiment_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return False
    return run.info.experiment_id == experiment_id and run.info.lifecycle_stage == "active"
