"""Model builders: every model config builds, backbones train, weights load, freezing, preprocessing, saving."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from fer_lab.errors import FerLabError
from fer_lab.models import MODELS, build_model, has_backbone, set_body_trainable
from fer_lab.models.backbones import PREPROCESSING, application_names
from fer_lab.paths import CONF_DIR

MODEL_CONFIGS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
BACKBONES = application_names()
SMALL_BACKBONE = ["model.weights=null", "model.input_size=32", "model.head.dense=[8]"]


@pytest.fixture
def compose_model(tmp_path):
    """compose_model(name, *overrides) -> (model cfg, augmentation cfg) through Hydra's defaults lists."""
    (tmp_path / "primary.yaml").write_text(
        "defaults:\n  - model: custom_cnn\n  - augmentation: none\n  - _self_\n"
        f"hydra:\n  searchpath:\n    - file://{CONF_DIR}\n"
    )

    def _compose(name: str, *overrides: str):
        with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
            cfg = compose("primary", overrides=[f"model={name}", *overrides])
        return cfg.model, cfg.augmentation

    return _compose


def images(n=8, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 1)).astype("uint8")


def one_hot(n=8, k=7):
    return np.eye(k, dtype="float32")[np.arange(n) % k]


def train_one_step(model, x):
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    history = model.fit(x, one_hot(len(x)), batch_size=len(x), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def assert_probabilities(model, x):
    p = model.predict(x, verbose=0)
    assert p.shape == (len(x), 7) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_every_architecture_has_a_model_config():
    own = [name for name in MODELS.names() if MODELS[name].__module__.startswith("fer_lab.models.")]
    assert {"custom_cnn", "vgg16", "resnet50v2"} <= set(own) <= set(MODEL_CONFIGS)
    assert {"cnn_3block", "cnn_4block", "cnn_5block", "cnn_tiny"} <= set(MODEL_CONFIGS)


@pytest.mark.parametrize("name", MODEL_CONFIGS)
def test_every_model_config_builds(compose_model, name):
    backbone = compose_model(name)[0].arch in BACKBONES
    model_cfg, aug_cfg = compose_model(name, *(SMALL_BACKBONE if backbone else []))
    model = build_model(model_cfg, aug_cfg, input_shape=(48, 48, 1), num_classes=7)
    assert model.output_shape == (None, 7) and model.name == model_cfg.name
    assert model.get_layer("predictions").dtype_policy.compute_dtype == "float32"
    assert has_backbone(model) == backbone


def test_block_configs_override_custom_cnn(compose_model):
    filters = {
        name: [b.filters for b in compose_model(name)[0].blocks] for name in ("cnn_3block", "cnn_4block", "cnn_5block")
    }
    assert filters == {
        "cnn_3block": [32, 64, 128],
        "cnn_4block": [64, 128, 256, 512],
        "cnn_5block": [32, 64, 128, 256, 512],
    }
    cnn_3block = compose_model("cnn_3block")[0]
    assert (cnn_3block.name, cnn_3block.arch) == ("cnn_3block", "custom_cnn")


def test_tiny_cnn_trains_one_step(compose_model):
    model_cfg, aug_cfg = compose_model("cnn_tiny", "augmentation=default")
    model = build_model(model_cfg, aug_cfg, input_shape=(32, 32, 1))
    x = images()
    train_one_step(model, x)
    assert_probabilities(model, x)


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_trains_one_step(compose_model, name):
    model_cfg, aug_cfg = compose_model(name, *SMALL_BACKBONE, "augmentation=light")
    model = build_model(model_cfg, aug_cfg, input_shape=(36, 36, 1))  # resized to 32 inside
    assert model.get_layer("resize").output.shape[1:3] == (32, 32)
    set_body_trainable(model, 4)
    x = images(size=36)
    train_one_step(model, x)
    assert_probabilities(model, x)


@pytest.mark.parametrize("name", BACKBONES)
def test_preprocessing_matches_keras_applications(compose_model, name):
    mode = MODELS[name].preprocessing
    model_cfg, _ = compose_model(name, *SMALL_BACKBONE)
    model = build_model(model_cfg, None, input_shape=(32, 32, 1))
    if mode is None:  # the application preprocesses inside
        assert "preprocess" not in [layer.name for layer in model.layers]
        return
    preprocessed = keras.Model(model.input, model.get_layer("preprocess").output)
    x = images(4).astype("float32")
    expected = keras.applications.imagenet_utils.preprocess_input(np.repeat(x, 3, axis=-1), mode=mode)
    np.testing.assert_allclose(preprocessed.predict(x, verbose=0), expected, atol=1e-4)


def test_the_backbones_preprocess_as_keras_applications_does():
    assert (MODELS["vgg16"].preprocessing, MODELS["resnet50v2"].preprocessing) == ("caffe", "tf")
    assert set(PREPROCESSING) == {"caffe", "tf"}


def test_weights_file_round_trips(compose_model, tmp_path):
    model_cfg, _ = compose_model("vgg16", *SMALL_BACKBONE)
    source = build_model(model_cfg, None, input_shape=(32, 32, 1)).get_layer("backbone")
    path = tmp_path / "vgg16_backbone.weights.h5"
    source.save_weights(path)
    model_cfg.weights = str(path)
    model_cfg.input_size = 48  # convolutional weights do not depend on the input size
    loaded = build_model(model_cfg, None, input_shape=(32, 32, 1)).get_layer("backbone")
    for a, b in zip(source.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mismatching_weights_file_is_a_user_error(compose_model, tmp_path):
    path = tmp_path / "tiny.weights.h5"
    build_model(compose_model("cnn_tiny")[0], None, input_shape=(32, 32, 1)).save_weights(path)
    model_cfg, _ = compose_model("vgg16", *SMALL_BACKBONE, f"model.weights={path}")
    with pytest.raises(FerLabError, match=r"tiny\.weights\.h5 does not hold vgg16 backbone weights"):
        build_model(model_cfg, None, input_shape=(32, 32, 1))


def test_missing_weights_file_is_a_user_error(compose_model, tmp_path):
    model_cfg, _ = compose_model("resnet50v2", *SMALL_BACKBONE, f"model.weights={tmp_path}/nope.h5")
    with pytest.raises(FerLabError, match=r"no such file.*model\.weights=null"):
        build_model(model_cfg, None, input_shape=(32, 32, 1))


def test_failed_imagenet_download_suggests_the_fix(compose_model, monkeypatch):
    def offline(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -2] Name or service not known"
        )

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    model_cfg, _ = compose_model("vgg16", "model.input_size=32")
    assert model_cfg.weights == "imagenet"
    with pytest.raises(FerLabError) as err:
        build_model(model_cfg, None, input_shape=(32, 32, 1))
    message = str(err.value)
    assert "could not be downloaded: URL fetch failure" in message and "\n" not in message
    for fix in ("model.weights=null", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "~/.keras/models"):
        assert fix in message


def test_unknown_architecture_names_the_choices(compose_model):
    model_cfg, _ = compose_model("custom_cnn", "model.arch=alexnet")
    with pytest.raises(FerLabError, match=r"^unknown model.arch='alexnet': choose one of custom_cnn \| "):
        build_model(model_cfg, None, input_shape=(32, 32, 1))


@pytest.mark.parametrize(
    "name, override",
    [
        ("custom_cnn", "model.pooling=median"),
        ("custom_cnn", "model.global_pool=max"),
        ("custom_cnn", "model.kernel_size=big"),
        ("custom_cnn", "model.colour=red"),
        ("vgg16", "model.input_size=large"),
        ("vgg16", "model.head.units=[8]"),
        ("vgg16", "model.blocks=[]"),
    ],
)
def test_the_schema_rejects_wrong_types_choices_and_keys_when_composing(compose_model, name, override):
    with pytest.raises(ConfigCompositionException, match=re.escape(override.split("=")[0])):
        compose_model(name, override)


@pytest.mark.parametrize(
    "cfg, key",
    [
        ({"arch": "custom_cnn", "blocks": [{"filters": 4}], "pooling": "median"}, "model.pooling"),
        ({"arch": "custom_cnn", "blocks": [{"filters": 4}], "colour": "red"}, "model.colour"),
        ({"arch": "vgg16", "fine_tune": {"head_epochs": "five"}}, "model.fine_tune.head_epochs"),
    ],
)
def test_configs_built_in_code_are_checked_against_the_schema(cfg, key):
    with pytest.raises(FerLabError, match=f"^invalid config value {re.escape(key)}: "):
        build_model(OmegaConf.create(cfg), None, input_shape=(32, 32, 1))


@pytest.mark.parametrize(
    "name, overrides, key",
    [
        ("custom_cnn", ["model.blocks=[{filters: -8, convs: 1}]"], "model.blocks[0].filters"),
        ("custom_cnn", ["model.blocks=[{convs: 2}]"], "model.blocks[0].filters"),
        ("custom_cnn", ["model.blocks=[{filters: 8, kernel: 5}]"], "model.blocks[0]"),
        ("custom_cnn", ["model.block_dropout=1.0"], "model.block_dropout"),
        ("custom_cnn", ["model.dense_dropout=-0.1"], "model.dense_dropout"),
        ("custom_cnn", ["model.bn_momentum=1.0"], "model.bn_momentum"),
        ("custom_cnn", ["model.input_crop=32"], "model.input_crop"),
        ("custom_cnn", ["model.input_crop=8"], "model.input_crop"),
        ("custom_cnn", ["model.activation=nope"], "model.activation"),
        (
            "cnn_5block",
            ["model.blocks=[{filters: 8},{filters: 8},{filters: 8},{filters: 8},{filters: 8},{filters: 8}]"],
            "model.blocks",
        ),
        ("vgg16", ["model.weights=pretrained"], "model.weights"),
        ("vgg16", ["model.weights=null", "model.input_size=16"], "model.input_size"),
        ("resnet50v2", ["model.weights=null", "model.head.dropout=1.5"], "model.head.dropout"),
        ("resnet50v2", ["model.weights=null", "model.l2=-1"], "model.l2"),
    ],
)
def test_bad_model_values_name_the_key(compose_model, name, overrides, key):
    model_cfg, _ = compose_model(name, *overrides)
    with pytest.raises(FerLabError, match=f"^invalid config value {re.escape(key)}="):
        build_model(model_cfg, None, input_shape=(32, 32, 1))


def trainable_layers(backbone):
    return [layer for layer in backbone.layers if layer.trainable and layer.weights]


def test_set_body_trainable_counts_and_keeps_batchnorm_frozen(compose_model):
    model = build_model(compose_model("resnet50v2", *SMALL_BACKBONE)[0], None, input_shape=(32, 32, 1))
    backbone = model.get_layer("backbone")
    batchnorm = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    head_weights = len(model.get_layer("dense1").trainable_weights + model.get_layer("predictions").trainable_weights)
    assert not backbone.trainable_weights and len(model.trainable_weights) == head_weights  # built frozen

    set_body_trainable(model, 36)
    top = backbone.layers[-36:]
    expected = [layer for layer in top if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
    assert trainable_layers(backbone) == expected and expected
    assert not any(layer.trainable for layer in batchnorm)

    set_body_trainable(model, -1)
    assert len(trainable_layers(backbone)) == sum(1 for layer in backbone.layers if layer.weights) - len(batchnorm)
    assert not any(layer.trainable for layer in batchnorm)

    for frozen in (0, None):
        set_body_trainable(model, frozen)
        assert not backbone.trainable_weights and len(model.trainable_weights) == head_weights

    with pytest.raises(FerLabError, match=r"model\.fine_tune\.unfreeze_top"):
        set_body_trainable(model, -2)


def test_batchnorm_runs_in_inference_mode_while_fine_tuning(compose_model):
    model_cfg, _ = compose_model("resnet50v2", *SMALL_BACKBONE, "model.head.dropout=0")
    model = build_model(model_cfg, None, input_shape=(32, 32, 1))
    set_body_trainable(model, -1)
    x = images(4).astype("float32")
    np.testing.assert_allclose(model(x, training=True), model(x, training=False), atol=1e-5)


def test_train_batchnorm_lets_the_unfrozen_batchnorm_layers_learn_the_new_data(compose_model):
    model_cfg, _ = compose_model("resnet50v2", *SMALL_BACKBONE, "model.head.dropout=0")
    model = build_model(model_cfg, None, input_shape=(32, 32, 1))
    backbone = model.get_layer("backbone")
    batchnorm = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    set_body_trainable(model, 36, train_batchnorm=True)
    top = backbone.layers[-36:]
    assert all(layer.trainable == (layer in top) for layer in batchnorm) and any(layer in top for layer in batchnorm)
    x = images(4).astype("float32")
    assert not np.allclose(model(x, training=True), model(x, training=False), atol=1e-5)  # batch statistics
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    before = [layer.moving_mean.numpy().copy() for layer in batchnorm]
    model.fit(x, np.eye(7)[[0, 1, 2, 3]], epochs=1, verbose=0)
    moved = [not np.allclose(b, layer.moving_mean.numpy()) for b, layer in zip(before, batchnorm, strict=True)]
    assert moved == [layer in top for layer in batchnorm]


def test_a_cnn_is_built_trainable_and_its_body_is_the_layers_before_the_head(compose_model):
    model = build_model(compose_model("cnn_tiny")[0], None, input_shape=(32, 32, 1))
    names = [layer.name for layer in model.layers]
    body, head = model.layers[: names.index("flatten")], model.layers[names.index("flatten") :]
    assert not has_backbone(model) and all(layer.trainable for layer in model.layers)
    set_body_trainable(model, 0)
    assert not any(layer.trainable for layer in body if layer.weights) and all(layer.trainable for layer in head)
    set_body_trainable(model, -1)
    assert all(
        layer.trainable == (not isinstance(layer, keras.layers.BatchNormalization)) for layer in body if layer.weights
    )


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("cnn_tiny", ["augmentation=heavy"]),
        ("cnn_tiny", ["augmentation=default", "model.input_crop=28"]),
        ("resnet50v2", [*SMALL_BACKBONE, "augmentation=default", "model.head.dropout=0"]),
    ],
)
def test_saved_model_loads_and_predicts_the_same(compose_model, tmp_path, name, overrides):
    model_cfg, aug_cfg = compose_model(name, *overrides)
    model = build_model(model_cfg, aug_cfg, input_shape=(32, 32, 1))
    set_body_trainable(model, 10)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = images(4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert has_backbone(loaded) == has_backbone(model)
    assert [layer.trainable for layer in loaded.layers] == [layer.trainable for layer in model.layers]
    if has_backbone(loaded):  # frozen BatchNorm survives saving: still inference mode in training
        assert [w.name for w in loaded.trainable_weights] == [w.name for w in model.trainable_weights]
        xf = x.astype("float32")
        no_augment = keras.Model(loaded.get_layer("augmentation").output, loaded.output)
        np.testing.assert_allclose(no_augment(xf, training=True), no_augment(xf, training=False), atol=1e-5)


def test_omegaconf_dict_without_optional_keys_builds():
    cfg = OmegaConf.create({"name": "custom_cnn", "blocks": [{"filters": 4}]})
    model = build_model(cfg, None, input_shape=(32, 32, 1), num_classes=8)
    assert model.output_shape == (None, 8) and model.name == "custom_cnn"
    assert MODELS.config({"arch": "resnet50v2"}).name == "resnet50v2"


def test_batchnorm_inference_agrees_with_training_after_a_short_run(compose_model, data_cfg):
    """Regression: with Keras' BN momentum 0.99 a 200-step run predicted its own training set at ~1%
    in inference mode (moving variance still near its initial 1.0); the default 0.9 converges."""
    from fer_lab.data import load_dataset

    data = load_dataset(data_cfg("synthetic"), seed=0)
    keras.utils.set_random_seed(0)
    model = build_model(compose_model("cnn_tiny")[0], None)
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(data.train.x, data.train.y, batch_size=16, epochs=6, verbose=0)
    inference = np.mean(np.argmax(model.predict(data.train.x, verbose=0), 1) == data.train.labels)
    assert history.history["accuracy"][-1] > 0.5
    assert inference > 0.8 * history.history["accuracy"][-1]


def test_input_crop_is_a_random_crop_in_training_and_the_centre_in_inference(compose_model):
    model_cfg, aug_cfg = compose_model("cnn_tiny", "augmentation=light", "model.input_crop=28")
    model = build_model(model_cfg, aug_cfg, input_shape=(32, 32, 1))
    stem = keras.Model(model.input, model.get_layer("input_crop").output)
    x = images(8).astype("float32")
    np.testing.assert_array_equal(stem(x, training=False), x[:, 2:30, 2:30])
    assert stem(x, training=True).shape == (8, 28, 28, 1)
    assert not np.allclose(stem(x, training=True), x[:, 2:30, 2:30])
