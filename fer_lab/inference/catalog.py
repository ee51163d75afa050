"""Which models inference can use: the registry's versions and aliases, and the bundled reference model.

Without a model named, inference uses models:/fer_lab@champion when the registry has it, else the bundled model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from fer_lab.config import REGISTERED_MODEL_NAME
from fer_lab.errors import FerLabError
from fer_lab.inference.bundled import BUNDLED_URI, bundled_model, has_bundled_model
from fer_lab.tracking.model_io import registry_uri
from fer_lab.tracking.registry import CHAMPION, registry_contents


@dataclass(frozen=True)
class ModelEntry:
    """One model inference can load, with the accuracy its training run measured (None when unknown)."""

    uri: str
    name: str
    version: str | None = None
    aliases: tuple[str, ...] = ()
    run_id: str | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None

    def to_dict(self) -> dict:
        return {**asdict(self), "aliases": list(self.aliases)}

    def describe(self) -> str:
        scores = ", ".join(
            f"{split} accuracy {value:.3f}"
            for split, value in (("val", self.val_accuracy), ("test", self.test_accuracy))
            if value is not None
        )
        where = f"{self.name} version {self.version}" if self.version else self.name
        return f"{self.uri} ({where}{': ' + scores if scores else ''})"


def default_model_uri(tracking_uri: str | None = None) -> str:
    """models:/fer_lab@champion when the registry has a champion, else the bundled model."""
    client = _client(tracking_uri)
    if client is None:
        return BUNDLED_URI
    try:
        client.get_model_version_by_alias(REGISTERED_MODEL_NAME, CHAMPION)
    except Exception:  # mlflow raises MlflowException (or RestException) for a missing model or alias
        return BUNDLED_URI
    return registry_uri()


def bundled_entry() -> ModelEntry:
    card = bundled_model().card
    return ModelEntry(
        BUNDLED_URI,
        f"bundled reference model ({card.get('model_name', 'fer_lab')})",
        run_id=card.get("run_id"),
        val_accuracy=card.get("val_accuracy"),
        test_accuracy=card.get("test_accuracy"),
    )


def available_models(tracking_uri: str | None = None) -> list[ModelEntry]:
    """The bundled model (when the package has one), then every registered version (newest first) with its
    aliases and run accuracy."""
    entries = [bundled_entry()] if has_bundled_model() else []
    client = _client(tracking_uri)
    if client is None:
        return entries
    for model in client.search_registered_models():
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in sorted(client.search_model_versions(f"name = '{model.name}'"), key=lambda v: -int(v.version)):
            entries.append(_version_entry(client, model.name, mv, tuple(sorted(aliases.get(str(mv.version), [])))))
    return entries


def describe_model(uri: str, tracking_uri: str | None = None) -> ModelEntry:
    """The catalogue entry of `uri`: its name, version, aliases and run accuracy where they are known."""
    if uri == BUNDLED_URI:
        return bundled_entry()
    if uri.startswith("models:/"):
        client = _client(tracking_uri)
        name, _, ref = uri.removeprefix("models:/").partition("@")
        try:
            if ref:
                mv = client.get_model_version_by_alias(name, ref)
            else:
                name, _, version = name.partition("/")
                mv = client.get_model_version(name, version)
        except Exception:  # missing model, version or alias
            contents = registry_contents(client, uri) if client else "the registry is empty"
            raise FerLabError(
                f"no registered model {uri}{f' ({contents})' if contents else ''}: pick one of "
                "`python -m fer_lab.app`'s model list, or train and register one with `python -m fer_lab.train`"
            ) from None
        model_aliases = client.get_registered_model(name).aliases or {}
        aliases = tuple(sorted(a for a, v in model_aliases.items() if str(v) == str(mv.version)))
        return _version_entry(client, name, mv, aliases, uri)
    return ModelEntry(uri, Path(uri).name or uri)


def _version_entry(client, name: str, mv, aliases: tuple[str, ...], uri: str | None = None) -> ModelEntry:
    metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
    return ModelEntry(
        uri or f"models:/{name}/{mv.version}",
        name,
        str(mv.version),
        aliases,
        mv.run_id,
        metrics.get("val_accuracy"),
        metrics.get("test_accuracy"),
    )


def _client(tracking_uri: str | None):
    """An MlflowClient on the tracking URI, or None when it is a SQLite file that does not exist yet."""
    import mlflow

    from fer_lab.tracking.uri import configure_tracking, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    configure_tracking(uri)
    return mlflow.MlflowClient()
