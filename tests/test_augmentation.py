"""In-model augmentation: config validation, training-only behaviour, pixel range."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from omegaconf import OmegaConf

from fer_lab.errors import FerLabError
from fer_lab.models import augmentation_settings, build_model
from fer_lab.models.augmentation import AUGMENTATIONS, augmentation_block
from fer_lab.paths import CONF_DIR

AUG_DIR = CONF_DIR / "augmentation"
TINY = OmegaConf.create(
    {"name": "custom_cnn", "blocks": [{"filters": 4, "convs": 1}], "dense": [], "block_dropout": 0.0}
)


def load(name: str):
    return OmegaConf.load(AUG_DIR / f"{name}.yaml")


def images(n=8, size=32):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 1)).astype("float32")


def test_augmentation_configs_set_every_registered_key():
    presets = sorted(p.stem for p in AUG_DIR.glob("*.yaml"))
    assert {"none", "light", "default", "heavy"} <= set(presets)
    for name in presets:
        assert set(load(name)) == set(AUGMENTATIONS.names()), name
        augmentation_settings(load(name))
    assert load("heavy").random_erasing > 0 and load("heavy").mixup == 0.2
    assert load("default").mixup == 0.0


def test_layers_follow_the_config():
    assert augmentation_block(load("none")) is None
    assert augmentation_block(None) is None
    assert [layer.name for layer in augmentation_block(load("heavy")).layers] == [
        "flip",
        "rotation",
        "zoom",
        "translation",
        "contrast",
        "random_erasing",
    ]
    assert [layer.name for layer in augmentation_block(load("light")).layers] == [
        "flip",
        "rotation",
        "zoom",
        "translation",
    ]
    assert [layer.name for layer in augmentation_block({"flip": True}).layers] == ["flip"]


def test_none_builds_a_model_without_augmentation_block():
    model = build_model(TINY, load("none"), input_shape=(32, 32, 1))
    assert "augmentation" not in [layer.name for layer in model.layers]


def test_augmentation_is_active_only_in_training():
    keras.utils.set_random_seed(0)
    model = build_model(TINY, load("heavy"), input_shape=(32, 32, 1))
    block = model.get_layer("augmentation")
    x = images()
    np.testing.assert_array_equal(block(x, training=False), x)
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    assert not np.allclose(block(x, training=True), x)
    assert not np.allclose(block(x, training=True), block(x, training=True))


def test_augmented_pixels_stay_in_range():
    keras.utils.set_random_seed(0)
    out = np.asarray(augmentation_block(load("heavy"))(images(), training=True))
    assert out.shape == (8, 32, 32, 1) and out.min() >= 0.0 and out.max() <= 255.0


def test_random_erasing_always_erases_at_probability_one():
    keras.utils.set_random_seed(0)
    x = np.full((8, 32, 32, 1), 128.0, dtype="float32")
    out = np.asarray(augmentation_block({"random_erasing": 1.0})(x, training=True))
    assert all((out[i] != 128.0).any() for i in range(len(x)))


@pytest.mark.parametrize(
    "key, value",
    [
        ("flip", "yes"),
        ("rotation", 0.7),
        ("rotation", -0.1),
        ("zoom", 1.0),
        ("translation", 2),
        ("contrast", 1.5),
        ("random_erasing", 1.2),
        ("mixup", -0.2),
    ],
)
def test_bad_values_name_the_key(key, value):
    cfg = OmegaConf.merge(load("default"), {key: value})
    with pytest.raises(FerLabError, match=f"^invalid config value augmentation.{key}="):
        augmentation_block(cfg)


def test_unknown_keys_name_the_known_ones():
    with pytest.raises(FerLabError, match=r"augmentation.rotate: the keys are flip \| rotation \| "):
        augmentation_block({"flip": True, "rotate": 0.1})


def test_a_registered_augmentation_is_one_key_away(monkeypatch):
    from fer_lab.models import augmentation

    monkeypatch.setattr(augmentation, "AUGMENTATIONS", type(AUGMENTATIONS)("augmentation", ""))
    augmentation.register_augmentation(
        "flip",
        False,
        "true or false",
        lambda v: isinstance(v, bool),
        lambda _, name: keras.layers.RandomFlip("horizontal", name=name),
    )
    augmentation.register_augmentation(
        "brightness",
        0.0,
        "a factor in [0, 1]",
        augmentation.in_range(1.0),
        lambda v, name: keras.layers.RandomBrightness(v, (0, 255), name=name),
    )
    assert augmentation_block({"brightness": 0.0}) is None
    assert [layer.name for layer in augmentation_block({"flip": True, "brightness": 0.2}).layers] == [
        "flip",
        "brightness",
    ]
    with pytest.raises(FerLabError, match=r"augmentation\.brightness="):
        augmentation_block({"brightness": 2.0})


def test_mixup_is_read_but_not_a_layer():
    assert augmentation_settings(load("heavy"))["mixup"] == 0.2
    assert augmentation_settings({})["mixup"] == 0.0
