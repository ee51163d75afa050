"""Registries: one per extension point (model architecture, data source, optimizer, ...).

A registry maps the name a config chooses (e.g. `model.arch: vgg16`) to the implementation, and each
entry carries its typed config: a dataclass stored in Hydra's ConfigStore as `<group>/<name>_schema`.
The YAML files of the group extend it (`defaults: [vgg16_schema, _self_]`), so Hydra checks types, choices
(`enum.StrEnum` fields) and unknown keys when it composes the config; `Registry.config` applies the same
check to configs built in code.

    OPTIMIZERS = Registry("optimizer", "name")

    @OPTIMIZERS.register("adam", AdamConfig)
    def adam(cfg, learning_rate): ...

A package that owns a registry imports its modules with `import_submodules`, so a new module dropped
into the package registers itself: adding an entry is one module plus one YAML file.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fer_lab.errors import FerLabError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> implementation for the config group `group`; `key` is the group's key holding the name."""

    def __init__(self, group: str, key: str):
        self.group, self.key = group, key
        self._entries: dict[str, T] = {}
        self._schemas: dict[str, type] = {}

    def register(self, name: str, schema: type | None = None) -> Callable[[T], T]:
        """Decorator: register the implementation under `name`, with its config dataclass `schema`.

        The schema is stored in Hydra's ConfigStore as `<group>/<name>_schema`, its `key` field (if it has
        one) defaulting to `name`.
        """

        def add(impl: T) -> T:
            if name in self._entries and self._entries[name] is not impl:
                raise ValueError(f"{self.group} {name!r} is registered twice")
            self._entries[name] = impl
            if schema is not None:
                self._schemas[name] = schema
                ConfigStore.instance().store(group=self.group, name=f"{name}_schema", node=self._node(name))
            return impl

        return add

    @property
    def full_key(self) -> str:
        return f"{self.group}.{self.key}"

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __getitem__(self, name) -> T:
        if name not in self._entries:
            raise FerLabError(
                f"unknown {self.full_key}={name!r}: choose one of {' | '.join(self._entries)} "
                f"(e.g. `{self.group}=<config>` picks a config of conf/{self.group}/)"
            )
        return self._entries[name]

    def config(self, cfg: DictConfig | dict, name: str | None = None) -> DictConfig:
        """`cfg` checked against the schema of entry `name` (default: the name `cfg` chooses).

        Returns the typed config (missing keys filled with the schema's defaults); a wrong type, an unknown
        key or a value outside a choice is a FerLabError naming the key.
        """
        name = name if name is not None else (cfg.get(self.key) if self.key else None)
        self[name]
        if name not in self._schemas:
            return cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
        try:
            return cast(DictConfig, OmegaConf.merge(self._node(name), cfg))
        except OmegaConfBaseException as err:
            raise config_error(err, self.group) from None

    def _node(self, name: str) -> DictConfig:
        schema = self._schemas[name]
        fields = {f.name for f in dataclasses.fields(schema)}
        node = OmegaConf.structured(schema)
        if self.key in fields:
            node[self.key] = name
        return node


def config_error(err: OmegaConfBaseException, prefix: str = "") -> FerLabError:
    """A FerLabError naming the full key of an OmegaConf validation error and what is wrong with it."""
    key = ".".join(k for k in (prefix, str(getattr(err, "full_key", "") or "")) if k)
    reason = str(getattr(err, "msg", None) or err).strip().splitlines()[0]
    return FerLabError(f"invalid config value {key}: {reason}. Fix it on the command line, e.g. `{key}=...`")


def import_submodules(package: str) -> None:
    """Import every module of `package`, so that each registers its entries."""
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{info.name}")
