"""Resolve and check the one MLflow tracking URI every fer_lab command uses."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from fer_lab.errors import FerLabError
from fer_lab.paths import project_root

DEFAULT_DB = "mlflow.db"
_SERVER_TIMEOUT_S = 10


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
    """Refuse a server that is down, is not MLflow, or is MLflow with a failing backend store (database down)."""
    base = uri.rstrip("/")
    try:
        _get(f"{base}/health")
        if not isinstance(json.loads(_get(f"{base}/api/2.0/mlflow/experiments/search?max_results=1")), dict):
            raise ValueError("not an object")
    except urllib.error.HTTPError as err:
        body = err.read().decode(errors="replace")
        if err.code == 403 and body.startswith("Invalid Host header"):
            host = urllib.parse.urlsplit(uri).netloc.rpartition("@")[2]
            raise FerLabError(
                f"the MLflow tracking server at {uri} refuses the host name {host} ({body.strip()}). Start it "
                f"with that name allowed (MLFLOW_SERVER_ALLOWED_HOSTS='{host},localhost:*' make server) or use "
                "its IP address."
            ) from None
        if err.code in (401, 403):
            return  # a server with authentication: MLflow sends the credentials (MLFLOW_TRACKING_USERNAME, ...)
        store_error = _mlflow_error(body) if err.code >= 500 else None
        if store_error:
            raise FerLabError(
                f"the MLflow tracking server at {uri} answers, but its backend store fails ({store_error}). "
                "Start the database behind it (`make server` checks it on start), or use the local store with "
                f"mlflow.tracking_uri=sqlite:///{DEFAULT_DB}."
            ) from None
        raise _not_mlflow(uri, f"{urllib.parse.urlsplit(err.url).path} gave HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise FerLabError(
            f"the MLflow tracking server at {uri} is unreachable ({reason}). Start it "
            f"(`make server` for a team's PostgreSQL store, `make ui` serves {DEFAULT_DB} on 127.0.0.1:5000) or use "
            f"the local store with mlflow.tracking_uri=sqlite:///{DEFAULT_DB}."
        ) from None
    except ValueError:
        raise _not_mlflow(uri, "its experiments API did not answer a JSON object") from None


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=_SERVER_TIMEOUT_S) as response:
        return response.read()


def _mlflow_error(body: str) -> str | None:
    """The first line of an MLflow error answer's message, without its exception class; None if not MLflow's."""
    try:
        message = json.loads(body)["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return re.sub(r"^\([\w.]+\) ", "", str(message).strip().split("\n")[0])


def _not_mlflow(uri: str, what: str) -> FerLabError:
    return FerLabError(
        f"{uri} answers, but not as an MLflow tracking server ({what}). Check the host and port of "
        "mlflow.tracking_uri (or $MLFLOW_TRACKING_URI)."
    )
