"""DATA_SOURCES: every conf/data option names a registered source with a schema; a new source is one module."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hydra.core.config_store import ConfigStore

from fer_lab.data import DATA_SOURCES, load_dataset, load_images
from fer_lab.data.sources import DataConfig, RawImages, raw_images
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS
from fer_lab.paths import CONF_DIR


def test_every_data_option_is_a_registered_source_with_its_schema(compose_train):
    assert set(DATA_SOURCES.names()) >= {"auto", "csv", "folder", "ferplus", "synthetic"}
    for option in sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml")):
        data = compose_train(f"data={option}").data
        assert data.source in DATA_SOURCES, option
        assert DATA_SOURCES.config(data) == data, f"conf/data/{option}.yaml adds nothing to its schema's keys"
    for name in DATA_SOURCES.names():
        assert ConfigStore.instance().load(f"data/{name}_schema.yaml").node.source == name


def test_a_schema_typed_choice_is_checked_when_composing(compose_train):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="test_split"):
        compose_train("data.test_split=Validation")


@dataclass
class StripesConfig(DataConfig):
    """A new source's keys."""

    per_class: int = 4


def test_a_new_source_is_one_registered_loader_with_its_schema():
    @DATA_SOURCES.register("stripes_example", StripesConfig)
    def load_stripes(cfg, seed: int) -> RawImages:
        n, size = cfg.per_class * len(EMOTIONS), cfg.image_size
        x = np.zeros((n, size, size, 1), np.uint8)
        x[np.arange(n), np.arange(n) % size] = 255
        usage = np.array(["Training", "PublicTest"] * (n // 2))
        return raw_images(
            {"x": x, "labels": np.arange(n) % len(EMOTIONS), "usage": usage, "notes": np.array([], dtype=str)},
            EMOTIONS,
            "stripes",
            [],
        )

    data = load_dataset({"source": "stripes_example", "image_size": 32, "val_fraction": 0.5}, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (7, 7, 14) and data.source == "stripes"
    with pytest.raises(FerLabError, match=r"data\.per_class"):
        load_images({"source": "stripes_example", "per_class": "many"})
    with pytest.raises(FerLabError, match=r"unknown data\.source='stripes'.*stripes_example"):
        load_images({"source": "stripes"})
