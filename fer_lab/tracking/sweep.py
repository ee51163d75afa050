"""Hydra multirun sweeps: one MLflow parent run per sweep, every job's run nested under it.

SweepParentRun is registered in conf/hydra/fer_lab.yaml. Hydra's basic launcher runs the jobs one after the
other in this process and records a job that raises as failed, then goes on with the next; it re-raises the
first failure only after the last job (so the sweep exits non-zero). Jobs therefore must raise, never
sys.exit: `run_entry` takes care of that. A failed job's run is marked FAILED (one is created for a job that
failed before opening its own), and the parent ends FAILED with a list of the failed jobs. A sweep over seeds
only (`seed`, `trainer.init_seed`) also logs the mean, standard deviation, min and max of its jobs' metrics.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from fer_lab.errors import report_user_errors

SWEEP_RUN_ENV = "FER_LAB_SWEEP_PARENT_RUN_ID"
SEED_KEYS = ("seed", "trainer.init_seed")
SPREAD_METRICS = ("val_accuracy", "val_macro_f1", "test_accuracy", "test_macro_f1")


def swept_keys(overrides: list[str]) -> set[str]:
    """The keys a multirun's overrides sweep over (`a=1,2`, `a=range(3)`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return {o.key_or_group for o in OverridesParser.create().parse_overrides(overrides) if o.is_sweep_override()}


def seed_spread(runs: list) -> dict[str, float]:
    """<metric>_mean/_std/_min/_max over the finished runs of a seed sweep (std: sample, ddof=1)."""
    import numpy as np

    spread: dict[str, float] = {}
    for metric in SPREAD_METRICS:
        values = np.array(
            [r.data.metrics[metric] for r in runs if r.info.status == "FINISHED" and metric in r.data.metrics]
        )
        if len(values) >= 2:
            spread |= {
                f"{metric}_mean": float(values.mean()),
                f"{metric}_std": float(values.std(ddof=1)),
                f"{metric}_min": float(values.min()),
                f"{metric}_max": float(values.max()),
            }
    return spread


def run_entry(task: Callable[[str | None], Any]) -> Any:
    """Run one Hydra job's `task(parent_run_id)`.

    Alone: user errors print one line and exit 2. In a multirun: `task` nests under the sweep's parent run and
    its errors propagate to Hydra, which records the job as failed and runs the others.
    """
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return task(os.environ.get(SWEEP_RUN_ENV))
    return report_user_errors(task)(None)


class SweepParentRun(Callback):
    """Opens the sweep's parent run, tags each job's child run, and records failed jobs."""

    def __init__(self) -> None:
        self.parent_id: str | None = None
        self.failures: list[tuple[str, str]] = []
        self.jobs = 0
        self.ended = False
        self.seeds_only = False
        self._job_start_ms = 0

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if "mlflow" not in config:
            return
        import fer_lab.config  # noqa: F401  (the fer_lab_root resolver)
        from fer_lab.tracking import configure_tracking
        from fer_lab.tracking.parent_runs import ROLE_TAG, open_parent

        uri = configure_tracking(config.mlflow.tracking_uri)
        sweep = " ".join(config.hydra.overrides.task)
        swept = swept_keys(list(config.hydra.overrides.task))
        self.seeds_only = bool(swept) and swept <= set(SEED_KEYS)
        self.parent_id = open_parent(
            str(config.mlflow.experiment),
            uri,
            f"sweep-{config.task_name}-{time.strftime('%m%d-%H%M%S')}",
            {ROLE_TAG: "sweep", "fer_lab.sweep": sweep},
        )
        os.environ[SWEEP_RUN_ENV] = self.parent_id
        atexit.register(self._finish)
        print(f"fer_lab: sweep parent run {self.parent_id} ({sweep})", flush=True)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._job_start_ms = int(time.time() * 1000)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self.parent_id is None:
            return
        from mlflow import MlflowClient

        from fer_lab.tracking.parent_runs import child_runs

        self.jobs += 1
        job = " ".join(job_return.overrides or [])
        client = MlflowClient()
        runs = child_runs(self.parent_id, extra_filter=f"attributes.start_time >= {self._job_start_ms}")
        failed = job_return.status == JobStatus.FAILED
        if failed:
            error = job_return._return_value
            message = f"{type(error).__name__}: {error}"
            self.failures.append((job, message))
            print(f"fer_lab: sweep job #{config.hydra.job.num} ({job}) failed: {message}", file=sys.stderr, flush=True)
            if not runs:  # it failed before opening its run: record it anyway
                runs = [self._failed_run(client, job)]
        for run in runs:
            client.set_tag(run.info.run_id, "fer_lab.sweep_job", job)
            if failed:
                client.set_tag(run.info.run_id, "fer_lab.error", message[:5000])
                if run.info.status == "RUNNING":
                    client.set_terminated(run.info.run_id, "FAILED")
        if "keras" in sys.modules:  # free the finished job's models before the next job builds its own
            sys.modules["keras"].backend.clear_session()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.ended = True
        self._finish()

    def _failed_run(self, client, job: str):
        from fer_lab.tracking.parent_runs import PARENT_TAG

        experiment_id = client.get_run(self.parent_id).info.experiment_id
        run = client.create_run(experiment_id, run_name=f"failed: {job}"[:250], tags={PARENT_TAG: self.parent_id})
        client.set_terminated(run.info.run_id, "FAILED")
        return run

    def _finish(self) -> None:
        """End the parent (once): FAILED if a job failed, KILLED if the sweep stopped early, else FINISHED."""
        if self.parent_id is None:
            return
        from mlflow import MlflowClient

        from fer_lab.tracking.parent_runs import child_runs, close_parent

        status = "FAILED" if self.failures else ("FINISHED" if self.ended else "KILLED")
        client = MlflowClient()
        client.log_metric(self.parent_id, "jobs", self.jobs)
        client.log_metric(self.parent_id, "jobs_failed", len(self.failures))
        spread = seed_spread(child_runs(self.parent_id)) if self.seeds_only else {}
        for key, value in spread.items():
            client.log_metric(self.parent_id, key, value)
        close_parent(self.parent_id, status)
        os.environ.pop(SWEEP_RUN_ENV, None)
        self.parent_id = None
        lines = [f"fer_lab: sweep {status}: {self.jobs} job(s) ran, {len(self.failures)} failed"]
        lines += [
            f"fer_lab:   over the seeds: {m} {spread[f'{m}_mean']:.4f} +- {spread[f'{m}_std']:.4f} "
            f"(min {spread[f'{m}_min']:.4f}, max {spread[f'{m}_max']:.4f})"
            for m in SPREAD_METRICS
            if f"{m}_mean" in spread
        ]
        lines += [f"fer_lab:   failed: {job}: {message}" for job, message in self.failures]
        print("\n".join(lines), file=sys.stderr if self.failures else sys.stdout, flush=True)
