"""MLflow tracking: one absolute tracking URI, run logging, parent runs of studies and sweeps, model registry."""

from fer_lab.tracking.uri import configure_tracking, resolve_tracking_uri

__all__ = ["configure_tracking", "resolve_tracking_uri"]
