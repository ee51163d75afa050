"""The Registry: names to implementations, typed configs in Hydra's ConfigStore, clear errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from fer_lab.errors import FerLabError
from fer_lab.registry import Registry


class Mode(enum.StrEnum):
    fast = "fast"
    slow = "slow"


@dataclass
class WidgetConfig:
    name: str = "widget"
    size: int = 3
    mode: Mode = Mode.fast


def test_register_and_look_up():
    reg = Registry("test_widgets", "name")

    @reg.register("widget", WidgetConfig)
    def widget(cfg):
        return cfg.size

    assert reg["widget"] is widget and "widget" in reg and reg.names() == ("widget",)
    with pytest.raises(FerLabError, match=r"unknown test_widgets.name='gadget': choose one of widget"):
        reg["gadget"]


def test_schema_is_stored_for_yaml_files_to_extend():
    reg = Registry("test_schemas", "name")
    reg.register("widget", WidgetConfig)(object())
    node = ConfigStore.instance().load("test_schemas/widget_schema.yaml").node
    assert node.name == "widget" and node.size == 3


def test_config_checks_types_choices_and_unknown_keys():
    reg = Registry("test_checks", "name")
    reg.register("widget", WidgetConfig)(object())
    cfg = reg.config({"name": "widget", "mode": "slow"})
    assert cfg.size == 3 and cfg.mode == "slow"
    for bad, message in [
        ({"size": "big"}, "test_checks.size"),
        ({"mode": "medium"}, "test_checks.mode"),
        ({"colour": 1}, "test_checks.colour"),
    ]:
        with pytest.raises(FerLabError, match=message):
            reg.config(OmegaConf.create({"name": "widget", **bad}))
