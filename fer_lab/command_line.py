"""Check a command's Hydra overrides before Hydra runs it, answering a typo with the nearest valid name.

Hydra refuses an unknown key but advises `+key=value`, which adds it unchecked, and lists a group's internal
`*_schema` entries among its options. Here every key override, with `+` or not, must name a key of the composed
config, and every group override an option file of conf/<group>/.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.paths import CONF_DIR

F = TypeVar("F", bound=Callable)

OPEN_SECTIONS = ("search_space",)
"""Sections that take new keys with `+` (a tuned hyperparameter: `+search_space.x={...}`)."""
KEYS_HINT = "`--cfg job` prints every key of the command's config"
_FLAGS_WITH_VALUE = ("-cn", "-cp", "-cd", "--config-name", "--config-path", "--config-dir", "--info", "-i")


def checked_overrides(config_name: str) -> Callable[[F], F]:
    """Decorator of a `@hydra.main` entry point: check the command line's overrides first (exit 2 on a typo)."""

    def decorate(main: F) -> F:
        @functools.wraps(main)
        def run(*args, **kwargs):
            if not args and not kwargs:
                report_user_errors(check_overrides)(config_name, _override_args(sys.argv[1:]))
            return main(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate


def check_overrides(config_name: str, args: Sequence[str], keys_hint: str = KEYS_HINT) -> None:
    """FerLabError for the first override naming an unknown config group option or key (`keys_hint`: where the
    user finds the valid keys)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from hydra.errors import HydraException

    try:
        overrides = OverridesParser.create().parse_overrides(list(args))
    except HydraException:
        return  # a syntax error: Hydra's own message shows where
    groups, keys = [], []
    for override in overrides:
        name = override.key_or_group
        if not name:
            raise FerLabError(f"`{override.input_line}` has no key before '=': write key=value, e.g. trainer.epochs=5")
        if name.startswith("hydra") or override.type == OverrideType.DEL:
            continue
        options = _group_options(name)
        if options:
            values = list(override.sweep_string_iterator()) if override.is_sweep_override() else [_value(override)]
            for value in values:
                _check_option(name, value, options)
            groups.append((override, values))
        else:
            keys.append(override)
    if not keys:
        return
    known = set().union(*(_keys(cfg) for cfg in _baselines(config_name, groups)))
    for override in keys:
        key = override.key_or_group
        if key not in known and not key.startswith(tuple(f"{s}." for s in OPEN_SECTIONS)):
            near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = f"did you mean `{near[0]}={_value(override)}`?" if near else "check its spelling."
            raise FerLabError(f"unknown config key {key!r} in `{override.input_line}`: {hint} ({keys_hint})")


def _override_args(argv: Sequence[str]) -> list[str]:
    """The overrides among a command's arguments (not Hydra's flags and their values)."""
    args, skip = [], False
    for arg in argv:
        if skip or arg.startswith("-"):
            skip = not skip and arg in _FLAGS_WITH_VALUE
            continue
        args.append(arg)
    return args


def _group_options(group: str) -> list[str]:
    """The option files of conf/<group>/ ([] when `group` is not a config group)."""
    folder = CONF_DIR / group
    try:
        return sorted(p.stem for p in folder.glob("*.yaml")) if group and folder.is_dir() else []
    except OSError:  # a name no folder can have (too long, ...)
        return []


def _check_option(group: str, value: str, options: list[str]) -> None:
    if value in options or value == "null":
        return
    near = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
    hint = f"did you mean {group}={near[0]}? " if near else ""
    raise FerLabError(f"unknown {group}={value}: {hint}The options are: {', '.join(options)} (conf/{group}/)")


def _value(override) -> str:
    """The value as typed (Hydra's parsed value would print `true` as True)."""
    return str(override.input_line).partition("=")[2]


def _baselines(config_name: str, groups: list) -> Iterator[DictConfig]:
    """The config composed with the command's group choices; once per option of a swept group."""
    first = [f"{o.get_key_element()}={values[0]}" for o, values in groups]
    variants = [first] + [
        [*first[:i], f"{o.get_key_element()}={v}", *first[i + 1 :]]
        for i, (o, values) in enumerate(groups)
        for v in values[1:]
    ]
    for overrides in variants:
        yield compose_config(config_name, overrides)


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    """conf/<config_name>.yaml composed with `overrides`, as a command not started by @hydra.main needs it; an override
    Hydra cannot apply (its syntax, `+` on an existing key, a broken interpolation) is one FerLabError."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    import fer_lab.extensions  # noqa: F401  (every extension point's config schema)

    try:
        if GlobalHydra.instance().is_initialized():
            cfg = compose(config_name=config_name, overrides=overrides)
        else:
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                cfg = compose(config_name=config_name, overrides=overrides)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        reason = str(err).strip().splitlines()[0]
        raise FerLabError(
            f"cannot apply the overrides {' '.join(overrides)}: {reason} (key=value sets a key, +key=value adds one)"
        ) from None
    return cfg


def _keys(cfg: DictConfig) -> set[str]:
    """Every dotted key of `cfg`, sections included, without resolving interpolations."""
    found: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            found.add(path)
            if isinstance(value, dict):
                walk(value, f"{path}.")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return found
