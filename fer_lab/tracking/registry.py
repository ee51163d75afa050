"""Model registry: move the `champion` alias to the best version by a validation metric.

Validation metrics are compared only between runs validated on the same images and labels (the run tag
`data.val_fingerprint`); runs logged before the tag existed count as comparable. Without a champion, the default
model (`fer_lab`) stands on the bundled model's card: a version must beat it on the same validation rows. Models
trained on synthetic faces never take the alias by themselves. Every decision is tagged on the version's run
(`fer_lab.champion`). Reading the champion and moving the alias happen under the model's alias lock, so
concurrent trainings cannot lose an update.
"""

from __future__ import annotations

from dataclasses import dataclass

from fer_lab.config import REGISTERED_MODEL_NAME, SYNTHETIC_SOURCE, direction
from fer_lab.errors import FerLabError
from fer_lab.tracking.alias_lock import alias_lock

CHAMPION = "champion"
VAL_FINGERPRINT_TAG = "data.val_fingerprint"
CHAMPION_TAG = "fer_lab.champion"  # on a registered version's run: "yes", or why it is not the champion


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    reason: str  # why the alias did not move ("" when it did)


def require_validation_metric(metric: str) -> None:
    """Selection uses validation data only: refuse test (or train) metrics."""
    if not metric.startswith("val_"):
        raise FerLabError(
            f"cannot promote by {metric!r}: models are chosen on validation metrics only "
            "(val_accuracy, val_macro_f1, ...), never on the test split"
        )


@dataclass(frozen=True)
class _Logged:
    """What the run behind one model version logged: its metrics and validation-data fingerprint."""

    metrics: dict
    val_fingerprint: str | None  # None for runs logged before the tag existed

    @classmethod
    def of_run(cls, client, run_id: str | None) -> _Logged:
        if not run_id:
            return cls({}, None)
        data = client.get_run(run_id).data
        return cls(data.metrics, data.tags.get(VAL_FINGERPRINT_TAG))

    @classmethod
    def of_version(cls, client, name: str, version: str) -> _Logged:
        return cls.of_run(client, client.get_model_version(name, version).run_id)


def promote_if_better(client, name: str, version: str, metric: str, mode: str, data_source: str = "") -> Promotion:
    """Alias `version` as champion: always, never, or (auto) if it beats the current champion (else, for the
    default model, the bundled one) on `metric` measured on the same validation data; tags the run with why."""
    require_validation_metric(metric)
    promotion = _decide(client, name, version, metric, mode, data_source)
    run_id = client.get_model_version(name, version).run_id
    if run_id:
        client.set_tag(run_id, CHAMPION_TAG, "yes" if promotion.promoted else promotion.reason)
    return promotion


def _decide(client, name: str, version: str, metric: str, mode: str, data_source: str) -> Promotion:
    if mode == "never":
        return Promotion(False, "mlflow.promote=never")
    if mode == "auto" and data_source == SYNTHETIC_SOURCE:
        return Promotion(False, f"trained on synthetic faces; {_promote_hint(name, version)} aliases it anyway")
    with alias_lock(client, name):
        if mode == "auto":
            refusal = _refusal(client, name, version, metric)
            if refusal:
                return Promotion(False, refusal)
        client.set_registered_model_alias(name, CHAMPION, version)
    return Promotion(True, "")


def _promote_hint(name: str, version: str) -> str:
    return f"`python -m fer_lab.promote --name {name} --version {version}`"


def _refusal(client, name: str, version: str, metric: str) -> str:
    """Why `version` must not replace the current champion, or the bundled model ("" when it may)."""
    current = _champion_version(client, name)
    if current == version:
        return ""
    ours = _Logged.of_version(client, name, version)
    if current is None:
        return _bundled_refusal(ours, name, version, metric) if name == REGISTERED_MODEL_NAME else ""
    theirs = _Logged.of_version(client, name, current)
    if ours.val_fingerprint and theirs.val_fingerprint and ours.val_fingerprint != theirs.val_fingerprint:
        return (
            f"version {current} was validated on other data, so {metric} does not compare; alias this one "
            f"with {_promote_hint(name, version)}, or register runs on other "
            "data under another mlflow.registered_model_name"
        )
    new, old = ours.metrics.get(metric), theirs.metrics.get(metric)
    if new is None or (old is not None and not _better(new, old, metric)):
        return f"version {current} has the better {metric} ({_fmt(old)} vs {_fmt(new)})"
    return ""


def _bundled_refusal(ours: _Logged, name: str, version: str, metric: str) -> str:
    """Why `version` must not replace the bundled model, which inference uses while `name` has no champion."""
    from fer_lab.inference.bundled import bundled_model, has_bundled_model

    if not has_bundled_model():
        return ""
    card = bundled_model().card
    keep = f"inference keeps the bundled model; {_promote_hint(name, version)} serves this one"
    if not ours.val_fingerprint or ours.val_fingerprint != card.get("val_fingerprint"):
        return (
            f"validated on other rows than the bundled model, so {metric} does not compare ({keep}, or register "
            "runs on other data under another mlflow.registered_model_name)"
        )
    new, old = ours.metrics.get(metric), card.get(metric)
    if new is None or old is None or not _better(new, old, metric):
        return f"the bundled model has the better {metric} ({_fmt(old)} vs {_fmt(new)}); {keep}"
    return ""


def best_version(client, name: str, metric: str) -> tuple[str, float]:
    """(version, value) of the registered version whose run has the best `metric`."""
    require_validation_metric(metric)
    scored: list[tuple[float, str]] = []
    data: dict[str, list[str]] = {}
    for mv in client.search_model_versions(f"name = '{name}'"):
        logged = _Logged.of_run(client, mv.run_id)
        value = logged.metrics.get(metric)
        if value is not None:
            scored.append((value, mv.version))
            if logged.val_fingerprint:
                data.setdefault(logged.val_fingerprint, []).append(str(mv.version))
    if not scored:
        raise FerLabError(
            f"no version of registered model {name!r} has metric {metric!r}; train one with "
            "`python -m fer_lab.train` or pick a metric its runs logged"
        )
    if len(data) > 1:
        groups = "; ".join(f"versions {', '.join(sorted(v, key=int))}" for v in data.values())
        raise FerLabError(
            f"the versions of {name!r} were validated on {len(data)} different data sets ({groups}), "
            f"so their {metric} values do not compare; pick one with --version"
        )
    pick = max if direction(metric) == "max" else min
    value, version = pick(scored)
    return version, value


def require_version(client, name: str, version: str) -> str:
    """`version` if model `name` has it, else a FerLabError listing the versions it has."""
    versions = sorted((str(mv.version) for mv in client.search_model_versions(f"name = '{name}'")), key=int)
    if str(version) not in versions:
        have = (
            f"versions {', '.join(versions)}" if versions else "no versions (train one with `python -m fer_lab.train`)"
        )
        raise FerLabError(f"registered model {name!r} has no version {version}; it has {have}")
    return str(version)


def registry_contents(client, model_uri: str) -> str:
    """What the registry holds for the name in `model_uri` (models:/name@alias, models:/name/3): its versions and
    aliases, or the names it has; "" when `model_uri` names no registered model or the store cannot say."""
    from mlflow.exceptions import MlflowException

    from fer_lab.tracking.alias_lock import LOCK_SUFFIX

    if not model_uri.startswith("models:/"):
        return ""
    name = model_uri.removeprefix("models:/").split("@")[0].split("/")[0]
    try:
        models = {m.name: m for m in client.search_registered_models() if not m.name.endswith(LOCK_SUFFIX)}
        if name not in models:
            held = f"it holds {', '.join(sorted(models))}" if models else "it is empty"
            return f"the registry has no model {name!r}; {held} (the model URI `bundled` always works)"
        versions = sorted((str(v.version) for v in client.search_model_versions(f"name = '{name}'")), key=int)
    except MlflowException:
        return ""
    aliases = ", ".join(f"@{a} = version {v}" for a, v in sorted((models[name].aliases or {}).items()))
    return f"{name} has versions {', '.join(versions) or 'none'}; aliases: {aliases or 'none'}"


def _fmt(value: float | None) -> str:
    return "not logged" if value is None else f"{value:.4f}"


def _champion_version(client, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION).version
    except MlflowException:
        return None


def _better(new: float, old: float, metric: str) -> bool:
    return new > old if direction(metric) == "max" else new < old
