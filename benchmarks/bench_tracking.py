"""Tracking under concurrent writers: a SQLite file against an MLflow server on PostgreSQL, side by side.

    .venv/bin/python benchmarks/bench_tracking.py [--writers 1,4,8] [--steps 50] [--metrics 5]
        [--server-workers 4] [--server http://HOST:PORT]

Each writer is a process that opens its own run and logs --metrics metrics per step for --steps steps, one
mlflow.log_metrics call per step as fer_lab's per-epoch callback does, then ends the run. Writers start together
(their imports are not timed); metrics/s is every metric written over the time from the first start to the last end.
A writer fails at its first error (SQLite: "database is locked"); the table counts them, the first error follows.
The SQLite store is a fresh file; the server is a throwaway PostgreSQL cluster with `mlflow server` on it
(fer_lab.tracking.local_postgres, fer_lab.tracking.server), unless --server names a running one.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

from fer_lab.tracking.hardware import cpu_description

os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run" line per writer


class Result(NamedTuple):
    metrics: int  # metrics written
    failed: int  # writers stopped by an error
    seconds: float  # first start to last end
    error: str | None  # the first error's first line


def writer(uri: str, experiment_id: str, steps: int, metrics: int, ready, start, out) -> None:
    """One process: say `ready`, wait for `start`, log `steps` x `metrics` in a run; put (written, error, t0, t1)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.MlflowClient().get_experiment(experiment_id)  # open the store (SQLite: its schema check) untimed
    written, error = 0, None
    ready.put(True)
    start.wait()
    t0 = time.perf_counter()
    try:
        with mlflow.start_run(experiment_id=experiment_id):
            for step in range(steps):
                mlflow.log_metrics({f"epoch/m{i}": step / (i + 1) for i in range(metrics)}, step=step)
                written += metrics
    except Exception as err:
        error = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
    out.put((written, error, t0, time.perf_counter()))


def measure(uri: str, writers: int, steps: int, metrics: int) -> Result:
    """Run `writers` writer processes at once against `uri` (in a fresh experiment)."""
    from mlflow import MlflowClient

    experiment_id = MlflowClient(uri).create_experiment(f"bench_{writers}_{time.time_ns()}")
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=writer, args=(uri, experiment_id, steps, metrics, ready, start, out)) for _ in range(writers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=300)
    start.set()
    results = [out.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
    errors = [error for _, error, _, _ in results if error]
    seconds = max(r[3] for r in results) - min(r[2] for r in results)
    return Result(sum(r[0] for r in results), len(errors), seconds, errors[0] if errors else None)


def sqlite_store(folder: Path) -> str:
    from mlflow import MlflowClient

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # create the schema before the writers open the file
    return uri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", default="1,4,8", help="comma-separated numbers of concurrent writer processes")
    parser.add_argument("--steps", type=int, default=50, help="steps (epochs) per writer")
    parser.add_argument("--metrics", type=int, default=5, help="metrics logged per step")
    parser.add_argument("--server-workers", type=int, default=4, help="worker processes of the throwaway server")
    parser.add_argument("--server", default=None, help="a running MLflow server's URI instead of a throwaway one")
    args = parser.parse_args()
    counts = [int(n) for n in args.writers.split(",") if n]

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_tracking_")))
        server = args.server or start_server(stack, folder, args.server_workers)
        stores = {"SQLite": sqlite_store(folder), "PostgreSQL server": server}
        table = {(name, n): measure(uri, n, args.steps, args.metrics) for n in counts for name, uri in stores.items()}

    print(
        f"\n### MLflow tracking: concurrent writers, {args.steps} steps x {args.metrics} metrics each; "
        f"{cpu_description()}\n"
    )
    print("| writers | " + " | ".join(f"{name} metrics/s | {name} failed writers" for name in stores) + " |")
    print("|---:|" + "---:|---:|" * len(stores))
    for n in counts:
        cells = (f"{table[name, n].metrics / table[name, n].seconds:.0f} | {table[name, n].failed}" for name in stores)
        print(f"| {n} | " + " | ".join(cells) + " |")
    for (name, n), result in table.items():
        if result.error:
            print(f"\n{name}, {n} writers: {result.failed} failed, first error: {result.error}")


def start_server(stack: ExitStack, folder: Path, workers: int) -> str:
    """A throwaway PostgreSQL cluster and MLflow server, stopped when `stack` closes; returns the server's URI."""
    from fer_lab.tracking.local_postgres import LocalPostgres
    from fer_lab.tracking.server import running_server
    from fer_lab.tuning.local_cluster import free_port

    postgres = stack.enter_context(LocalPostgres(free_port()))
    uri = stack.enter_context(
        running_server(postgres.uri, folder / "artifacts", free_port(), workers=workers, log=folder / "mlflow.log")
    )
    for _ in range(10 * workers):  # new connections reach every worker, which opens its store on its first request
        urllib.request.urlopen(f"{uri}/api/2.0/mlflow/experiments/search?max_results=1", timeout=60).close()
    return uri


if __name__ == "__main__":
    main()
