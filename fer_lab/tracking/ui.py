"""`python -m fer_lab.tracking.ui` (make ui): the MLflow UI of the store every fer_lab command uses.

The store is the one tracking URI of all commands (`--tracking-uri`, else $MLFLOW_TRACKING_URI, else
<root>/mlflow.db). A tracking server serves its own UI, so for an http(s) URI this only prints where to look.
Experiments fer_lab creates are tagged as model training, so they open on their training runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from fer_lab.errors import report_user_errors
from fer_lab.listening import check_port
from fer_lab.tracking.uri import artifact_root, resolve_tracking_uri

EXPERIMENT = "train"  # the experiment `python -m fer_lab.train` logs to by default


def ui_command(tracking_uri: str, host: str, port: int) -> list[str]:
    """`mlflow ui` on the SQLite store `tracking_uri`, its artifacts where fer_lab's experiments keep them."""
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri]
    root = artifact_root(tracking_uri)
    if root:
        command += ["--artifacts-destination", root.removeprefix("file://")]
    return [*command, "--host", host, "--port", str(port)]


def where_to_look(base_url: str, tracking_uri: str) -> str:
    """Where the runs and models are in the UI at `base_url`."""
    base = base_url.rstrip("/")
    runs = f"{base}/#/experiments"
    experiment = _experiment_id(tracking_uri, EXPERIMENT)
    if experiment:
        runs = f"{runs}/{experiment}"
    return (
        f"fer_lab: MLflow UI of {tracking_uri}: training runs on {runs}, registered models on {base}/#/models "
        "(in MLflow's sidebar, switch from GenAI to 'Model training' to list every experiment)"
    )


def _experiment_id(tracking_uri: str, name: str) -> str | None:
    """Id of experiment `name` in the store, if it exists (a fresh store has none)."""
    from mlflow import MlflowClient

    experiment = MlflowClient(tracking_uri).get_experiment_by_name(name)
    return experiment.experiment_id if experiment else None


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.tracking.ui", description=__doc__)
    parser.add_argument("--tracking-uri", default=None, help="the store (default: what every fer_lab command uses)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    uri = resolve_tracking_uri(args.tracking_uri)
    if uri.startswith(("http://", "https://")):
        from fer_lab.tracking.uri import configure_tracking

        configure_tracking(uri)  # one clear message when the server is down
        print(where_to_look(uri, uri), flush=True)
        return
    check_port(args.host, args.port)
    print(where_to_look(f"http://{args.host}:{args.port}", uri), flush=True)
    command = ui_command(uri, args.host, args.port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
