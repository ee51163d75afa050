"""Resolve and check the one MLflow tracking URI every fer_lab command uses."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from fer_lab.errors import FerLabError
from fer_lab.paths import project_root

DEFAULT_DB = "mlflow.db"
_SERVER_TIMEOUT_S = 5


def resolve_tracking_uri(configured: str | None = None) -> str:
    """The absolute tracking URI: the configured one, else $MLFLOW_TRACKING_URI, else SQLite at the root.

    Relative SQLite and file paths are made absolute against the project root, so the URI does not
    depend on the directory a command is started from.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB}"
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        return f"sqlite:///{_absolute(path)}"
    if uri.startswith(("http://", "https://", "databricks")):
        return uri
    path = Path(uri.removeprefix("file://"))
    raise FerLabError(
        f"tracking URI {uri!r} is a plain folder, which cannot hold a model registry. "
        f"Use a SQLite file (mlflow.tracking_uri=sqlite:///{_absolute(path).with_suffix('.db')}) "
        "or a server (mlflow.tracking_uri=http://127.0.0.1:5000)."
    )


def configure_tracking(configured: str | None = None) -> str:
    """Point MLflow at the resolved URI (tracking and registry) after checking it is reachable."""
    import mlflow

    uri = resolve_tracking_uri(configured)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def artifact_root(tracking_uri: str) -> str | None:
    """Where a new experiment stores artifacts: <root>/mlartifacts for SQLite, the server's own otherwise."""
    if tracking_uri.startswith("sqlite:///"):
        return (project_root() / "mlartifacts").as_uri()
    return None


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else (project_root() / path).resolve()


def _check_server(uri: str) -> None:
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=_SERVER_TIMEOUT_S):
            return
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise FerLabError(
            f"the MLflow tracking server at {uri} is unreachable ({reason}). Start it "
            f"(`make ui` serves {DEFAULT_DB} on 127.0.0.1:5000) or use the local store with "
            f"mlflow.tracking_uri=sqlite:///{DEFAULT_DB}."
        ) from None
