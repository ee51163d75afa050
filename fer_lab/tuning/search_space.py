"""The search space from the `search_space` config group: each hyperparameter names the config key it sets.

    learning_rate: {key: optimizer.learning_rate, type: float, min: 1.0e-4, max: 3.0e-3, sampling: log}
    batch_size:    {key: trainer.batch_size, type: choice, values: [32, 64, 128]}
    dense:         {key: model.dense, type: choice, values: {d256: [256], d256_128: [256, 128]}}
    augmentation:  {key: augmentation, type: group, values: [light, default, heavy]}

`choice` values are a list of scalars or a mapping label -> any config value (lists, dicts);
`group` swaps a whole config group option (conf/<key>/<value>.yaml). An entry set to null is not tuned.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from fer_lab.config import to_plain_dict
from fer_lab.errors import FerLabError
from fer_lab.paths import CONF_DIR
from fer_lab.registry import config_error

TYPES = ("float", "int", "choice", "bool", "group")
FIELDS = {"key", "type", "min", "max", "step", "sampling", "values", "default"}
SAMPLINGS = ("linear", "log", "reverse_log")
TUNABLE_SECTIONS = ("model", "augmentation", "optimizer", "schedule", "trainer", "training")
_MISSING = object()


@dataclass(frozen=True)
class HyperParam:
    """One searched hyperparameter: its name, the config key it sets and its domain."""

    name: str
    key: str
    type: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    sampling: str = "linear"
    labels: tuple = ()  # choice/group: what the tuner samples
    mapping: dict | None = None  # choice with a mapping: label -> config value
    default: Any = None

    def config_value(self, value):
        """The config value a sampled value stands for."""
        return copy.deepcopy(self.mapping[value]) if self.mapping is not None else value

    def candidates(self) -> list:
        """Values worth checking up front: every choice, or both ends of a range."""
        if self.type in ("choice", "group"):
            return list(self.labels)
        if self.type == "bool":
            return [False, True]
        return [self.min, self.max]

    @property
    def bounds(self) -> tuple[float, float]:
        """(min, max) of a float or int range."""
        if self.min is None or self.max is None:
            raise ValueError(f"search_space.{self.name} is a {self.type}, not a range")
        return self.min, self.max


def parse_space(cfg: DictConfig) -> list[HyperParam]:
    """The hyperparameters of cfg.search_space, checked against the composed config `cfg`."""
    node = cfg.get("search_space")
    entries = {} if node is None else to_plain_dict(node)
    params = [_parse(name, spec, cfg) for name, spec in entries.items() if spec is not None]
    if not params:
        raise FerLabError(
            "the search space is empty: pick one with `search_space=<name>` "
            f"(options in {CONF_DIR / 'search_space'}) or add entries, e.g. "
            "`+search_space.lr={key:optimizer.learning_rate,type:float,min:1e-4,max:1e-2,sampling:log}`"
        )
    return params


def declare(hp, params: list[HyperParam]) -> dict[str, Any]:
    """Register `params` on a keras_tuner HyperParameters and return their current values by name."""
    values = {}
    for p in params:
        if p.type == "float":
            lo, hi = p.bounds
            values[p.name] = hp.Float(p.name, lo, hi, step=p.step, sampling=p.sampling, default=p.default)
        elif p.type == "int":
            lo, hi = p.bounds
            values[p.name] = hp.Int(
                p.name, int(lo), int(hi), step=int(p.step or 1), sampling=p.sampling, default=p.default
            )
        elif p.type == "bool":
            values[p.name] = hp.Boolean(p.name, default=bool(p.default))
        else:
            values[p.name] = hp.Choice(p.name, list(p.labels), default=p.default)
    return values


def apply(cfg: DictConfig, params: list[HyperParam], values: dict[str, Any]) -> DictConfig:
    """A copy of `cfg` with every sampled value written to its config key (groups first, then keys)."""
    out = copy.deepcopy(cfg)
    chosen = [p for p in params if p.name in values]
    with open_dict(out):
        for p in (p for p in chosen if p.type == "group"):
            out[p.key] = _load_group_option(p.key, values[p.name])
        for p in (p for p in chosen if p.type != "group"):
            try:
                OmegaConf.update(out, p.key, p.config_value(values[p.name]), merge=False)
            except OmegaConfBaseException as err:  # a value the key's schema rejects
                raise config_error(err) from None
    return out


def overrides(params: list[HyperParam], values: dict[str, Any]) -> list[str]:
    """Hydra command-line overrides that reproduce `values`, e.g. ["optimizer.learning_rate=0.0012"]."""
    return [
        f"{p.key}={_hydra_literal(p.config_value(values[p.name]))}"
        for p in sorted(params, key=lambda p: p.type != "group")
        if p.name in values
    ]


def _parse(name: str, spec, cfg: DictConfig) -> HyperParam:
    where = f"search_space.{name}"
    if not isinstance(spec, dict):
        raise FerLabError(
            f"{where} must be a mapping like {{key: optimizer.learning_rate, type: float, min: ..., "
            f"max: ...}}, got {spec!r}"
        )
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        raise FerLabError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}")
    kind, key = spec.get("type"), spec.get("key")
    if kind not in TYPES:
        raise FerLabError(f"{where}.type={kind!r} is unknown: use one of {', '.join(TYPES)}")
    if not isinstance(key, str) or not key:
        raise FerLabError(f"{where}.key is missing: name the config key it sets, e.g. optimizer.learning_rate")
    _check_key(where, key, kind, cfg)
    if kind in ("float", "int"):
        return _parse_range(name, spec, where)
    if kind == "bool":
        return HyperParam(name, key, kind, default=spec.get("default"))
    return _parse_choice(name, spec, where)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_key(where: str, key: str, kind: str, cfg: DictConfig) -> None:
    section = key.split(".")[0]
    if section not in TUNABLE_SECTIONS:
        raise FerLabError(f"{where}.key={key} cannot be tuned: keys must lie under {', '.join(TUNABLE_SECTIONS)}")
    if kind == "group":
        if "." in key or not (CONF_DIR / key).is_dir():
            raise FerLabError(
                f"{where}.key={key}: type group needs a config group name (augmentation, optimizer or schedule)"
            )
        return
    if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        node = OmegaConf.select(cfg, parent) if parent else cfg
        known = ", ".join(f"{parent}.{k!s}" for k in node) if isinstance(node, DictConfig) else "none"
        raise FerLabError(
            f"{where}.key={key} is not a key of the composed config (known keys there: {known}); "
            "fix the name or pick the model whose config has it"
        )


def _parse_range(name: str, spec: dict, where: str) -> HyperParam:
    kind, lo, hi = spec["type"], spec.get("min"), spec.get("max")
    if not (_is_number(lo) and _is_number(hi)) or not lo < hi:
        raise FerLabError(f"{where} needs numbers min < max, got min={lo!r} max={hi!r}")
    sampling = spec.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        raise FerLabError(f"{where}.sampling={sampling!r} is unknown: use one of {', '.join(SAMPLINGS)}")
    if sampling != "linear" and lo <= 0:
        raise FerLabError(f"{where}: {sampling} sampling needs min > 0, got {lo}")
    if kind == "int" and not all(float(v).is_integer() for v in (lo, hi)):
        raise FerLabError(f"{where}: an int range needs integer min and max, got {lo}, {hi}")
    default = spec.get("default")
    if default is not None and not lo <= default <= hi:
        raise FerLabError(f"{where}.default={default} lies outside [{lo}, {hi}]")
    return HyperParam(name, spec["key"], kind, float(lo), float(hi), spec.get("step"), sampling, default=default)


def _parse_choice(name: str, spec: dict, where: str) -> HyperParam:
    values = spec.get("values")
    mapping = values if isinstance(values, dict) else None
    labels = tuple(values) if values else ()
    if mapping is None and {type(v) for v in labels} == {int, float}:
        labels = tuple(float(v) for v in labels)
    if not labels:
        raise FerLabError(f"{where}.values must be a non-empty list (or mapping label -> value)")
    if len({type(v) for v in labels}) > 1 or not all(isinstance(v, (str, int, float, bool)) for v in labels):
        raise FerLabError(
            f"{where}.values must all be strings, or all numbers (got {list(labels)!r}); for "
            "lists, dicts or null use a mapping label -> value, e.g. {none: null, small: [64]}"
        )
    if spec["type"] == "group":
        for option in labels:
            _load_group_option(spec["key"], option)
    default = spec.get("default")
    if default is not None and default not in labels:
        raise FerLabError(f"{where}.default={default!r} is not one of its values {list(labels)}")
    return HyperParam(name, spec["key"], spec["type"], labels=labels, mapping=mapping, default=default)


def _load_group_option(group: str, option: str) -> DictConfig:
    """conf/<group>/<option>.yaml as Hydra composes it (its defaults list, schema and all)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if not (CONF_DIR / group / f"{option}.yaml").is_file():
        raise FerLabError(f"search_space: no config {group}/{option}.yaml in {CONF_DIR}")
    if GlobalHydra.instance().is_initialized():  # inside a Hydra command
        return compose("train", overrides=[f"{group}={option}"])[group]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=[f"{group}={option}"])[group]


def _hydra_literal(value) -> str:
    """A value in Hydra's override grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):  # 10 significant digits hide float noise such as 0.30000000000000004
        return repr(float(f"{value:.10g}")) if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple, ListConfig)):
        return "[" + ",".join(_hydra_literal(v) for v in value) + "]"
    if isinstance(value, (dict, DictConfig)):
        return "{" + ",".join(f"{k!s}:{_hydra_literal(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z_][\w.\-/]*", text) else "'" + text.replace("'", "\\'") + "'"
