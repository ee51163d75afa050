"""Frozen-backbone feature caching: the head phase trains on backbone features computed once per image."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fer_lab.data import load_dataset
from fer_lab.errors import FerLabError
from fer_lab.models import build_model, caches_head_features
from fer_lab.training.checkpoint import CheckpointStore, RunState
from fer_lab.training.feature_cache import backbone_features, head_model
from fer_lab.training.fit import fit_resumable

CACHE_LINE = "head epochs on cached backbone features"


@pytest.fixture(scope="module")
def vgg16_weights(tmp_path_factory):
    """A tiny-input VGG16 backbone weights file (random weights stand in for ImageNet's)."""
    path = tmp_path_factory.mktemp("weights") / "vgg16_backbone.weights.h5"
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3), name="backbone").save_weights(
        path
    )
    return path


@pytest.fixture
def tiny_vgg16(compose_train, vgg16_weights, state_root):
    def compose(*overrides: str):
        return compose_train(
            "data=synthetic",
            "data.samples_per_class=10",
            "model=vgg16",
            f"model.weights={vgg16_weights}",
            "model.input_size=32",
            "model.head.dense=[8]",
            "augmentation=none",
            "trainer.batch_size=16",
            "trainer.verbose=0",
            "trainer.early_stopping_patience=0",
            *overrides,
        )

    return compose


def _build(cfg, data):
    return build_model(
        cfg.model, cfg.augmentation, input_shape=data.train.x.shape[1:], num_classes=len(data.class_names)
    )


def _store(tmp_path) -> CheckpointStore:
    store = CheckpointStore(tmp_path / "ckpt")
    store.folder.mkdir()
    return store


class _Record(keras.callbacks.Callback):
    """Keeps the logs and the model each callback sees, epoch by epoch."""

    def __init__(self):
        super().__init__()
        self.logs, self.models = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))
        self.models.append(self.model)


def test_head_phase_trains_the_full_models_head_on_cached_features(tiny_vgg16, tmp_path, capsys):
    cfg = tiny_vgg16("trainer.epochs=2", "model.fine_tune.head_epochs=2")
    data = load_dataset(cfg.data, seed=cfg.seed)
    model = _build(cfg, data)
    backbone_before = model.get_layer("backbone").get_weights()
    head_before = model.get_layer("predictions").get_weights()
    record = _Record()
    result = fit_resumable(model, data, cfg, _store(tmp_path), RunState(), [record])

    assert CACHE_LINE in capsys.readouterr().out
    assert all(m is model for m in record.models), "callbacks act on the full model"
    assert {"val_accuracy", "val_macro_f1", "val_loss", "img_per_s"} <= set(record.logs[-1])
    assert result.state.epoch == 2 and (tmp_path / "ckpt" / "best.weights.h5").exists()
    for before, after in zip(backbone_before, model.get_layer("backbone").get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(head_before[0], model.get_layer("predictions").get_weights()[0])
    features = backbone_features(model, data.val.x, 16)
    np.testing.assert_allclose(
        head_model(model).predict(features, verbose=0), model.predict(data.val.x, verbose=0), atol=1e-6
    )


def test_interrupted_cached_head_phase_resumes_into_fine_tuning(tiny_vgg16, tmp_path, capsys):
    cfg = tiny_vgg16("trainer.epochs=3", "model.fine_tune.head_epochs=2", "model.fine_tune.unfreeze_top=2")
    data = load_dataset(cfg.data, seed=cfg.seed)
    store = _store(tmp_path)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_resumable(_build(cfg, data), data, cfg, store, RunState(), [Interrupt()])
    assert store.load().epoch == 1
    result = fit_resumable(_build(cfg, data), data, cfg, store, store.load(), [])
    assert result.resumed_at == 1 and len(result.epoch_seconds) == 2 and result.state.epoch == 3
    assert capsys.readouterr().out.count(CACHE_LINE) == 2, "the resumed head epoch trains on the cache too"
    assert result.model.get_layer("backbone").trainable_weights, "fine-tuning unfroze the top layers"


@pytest.mark.parametrize(
    "setting, augmentation, expected",
    [
        ("auto", "none", True),
        ("auto", "default", False),
        ("true", "none", True),
        ("false", "none", False),
        ("false", "heavy", False),
    ],
)
def test_cache_features_setting(compose_train, setting, augmentation, expected):
    cfg = compose_train("model=vgg16", f"augmentation={augmentation}", f"model.fine_tune.cache_features={setting}")
    assert caches_head_features(cfg.model, cfg.augmentation) is expected


def test_mixup_alone_turns_auto_caching_off(compose_train):
    cfg = compose_train("model=resnet50v2", "augmentation=none", "augmentation.mixup=0.2")
    assert caches_head_features(cfg.model, cfg.augmentation) is False


@pytest.mark.parametrize("augmentation", [("augmentation=light",), ("augmentation=none", "augmentation.mixup=0.2")])
def test_required_caching_with_augmentation_is_refused_when_building(compose_train, augmentation):
    cfg = compose_train(
        "model=vgg16", "model.weights=null", "model.input_size=32", "model.fine_tune.cache_features=true", *augmentation
    )
    with pytest.raises(FerLabError, match=r"set augmentation=none or model\.fine_tune\.cache_features=false") as err:
        build_model(cfg.model, cfg.augmentation)
    assert "\n" not in str(err.value)


def test_bad_cache_features_value_names_the_key(compose_train):
    cfg = compose_train("model=vgg16", "model.fine_tune.cache_features=sometimes")
    with pytest.raises(FerLabError, match=r"^invalid config value model\.fine_tune\.cache_features="):
        caches_head_features(cfg.model, cfg.augmentation)
