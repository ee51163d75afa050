"""Model registry: move the `champion` alias to the best version by a validation metric."""

from __future__ import annotations

from fer_lab.errors import FerLabError

CHAMPION = "champion"


def higher_is_better(metric: str) -> bool:
    return not metric.endswith("loss")


def require_validation_metric(metric: str) -> None:
    """Selection uses validation data only: refuse test (or train) metrics."""
    if not metric.startswith("val_"):
        raise FerLabError(f"cannot promote by {metric!r}: models are chosen on validation metrics only "
                          "(val_accuracy, val_macro_f1, ...), never on the test split")


def version_metric(client, name: str, version: str, metric: str) -> float | None:
    """The metric of the run that produced model version `version`, or None if it was not logged."""
    run_id = client.get_model_version(name, version).run_id
    return client.get_run(run_id).data.metrics.get(metric) if run_id else None


def promote_if_better(client, name: str, version: str, metric: str, mode: str) -> bool:
    """Alias `version` as champion: always, never, or (auto) if it beats the current champion on `metric`."""
    require_validation_metric(metric)
    if mode == "never":
        return False
    if mode == "auto":
        current = _champion_version(client, name)
        if current is not None and current != version:
            new, old = version_metric(client, name, version, metric), version_metric(client, name, current, metric)
            if new is None or (old is not None and not _better(new, old, metric)):
                return False
    client.set_registered_model_alias(name, CHAMPION, version)
    return True


def best_version(client, name: str, metric: str) -> tuple[str, float]:
    """(version, value) of the registered version whose run has the best `metric`."""
    require_validation_metric(metric)
    scored = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        value = version_metric(client, name, mv.version, metric)
        if value is not None:
            scored.append((value, mv.version))
    if not scored:
        raise FerLabError(f"no version of registered model {name!r} has metric {metric!r}; train one with "
                          "`python -m fer_lab.train` or pick a metric its runs logged")
    pick = max if higher_is_better(metric) else min
    value, version = pick(scored)
    return version, value


def _champion_version(client, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION).version
    except MlflowException:
        return None


def _better(new: float, old: float, metric: str) -> bool:
    return new > old if higher_is_better(metric) else new < old
