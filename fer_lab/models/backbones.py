"""Pretrained keras.applications backbones (VGG16, ResNet50V2) fed from raw grayscale pixels.

Resizing, gray->RGB and each backbone's own `preprocess_input` are built-in layers inside the model,
so a saved model takes raw 0..255 pixels and loads anywhere without custom code.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.errors import FerLabError
from fer_lab.models.augmentation import augmentation_settings
from fer_lab.models.head import check_head, classifier_head, l2_regularizer

BACKBONE = "backbone"  # layer name of the backbone sub-model: model.get_layer(BACKBONE)
MIN_INPUT_SIZE = 32
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # 'caffe' mode; BGR order is moot for replicated gray

APPLICATIONS = {"vgg16": keras.applications.VGG16, "resnet50v2": keras.applications.ResNet50V2}
WEIGHT_FILES = {name: f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5" for name in APPLICATIONS}


def preprocessing_layer(name: str) -> keras.layers.Layer:
    """keras.applications.<name>.preprocess_input for RGB 0..255 input, as a built-in layer."""
    if name == "vgg16":  # caffe: subtract the ImageNet channel means, no scaling
        return keras.layers.Normalization(mean=IMAGENET_BGR_MEAN, variance=(1.0, 1.0, 1.0), name="preprocess")
    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")  # tf mode: [-1, 1]


def backbone_classifier(x, cfg: DictConfig, name: str, image_size: int, num_classes: int):
    """Raw gray pixels -> resize -> RGB -> preprocess -> backbone `name` (BN frozen) -> GAP -> head."""
    size = cfg.get("input_size", 96)
    require(isinstance(size, int) and size >= MIN_INPUT_SIZE, "model.input_size", size,
            f"an integer >= {MIN_INPUT_SIZE} (the smallest input {name} accepts); 96 is quick on CPU, "
            "224 is the ImageNet size")
    head = cfg.get("head") or {}
    units, dropout = check_head(head.get("dense", []), head.get("dropout", 0.0),
                                "model.head.dense", "model.head.dropout")
    regularizer = l2_regularizer(cfg.get("l2", 0.0))
    backbone = make_backbone(name, cfg.get("weights", "imagenet"), size)

    if size != image_size:
        x = keras.layers.Resizing(size, size, name="resize")(x)
    x = keras.layers.Concatenate(axis=-1, name="to_rgb")([x, x, x])
    x = preprocessing_layer(name)(x)
    # Keras 3 lets fit()'s training=True override this training=False; BatchNormalization still runs in
    # inference mode because set_backbone_trainable keeps every BN layer trainable=False.
    x = backbone(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return classifier_head(x, units, dropout, regularizer, num_classes)


def make_backbone(name: str, weights, size: int) -> keras.Model:
    """keras.applications `name` without its top, named "backbone", with `weights` (imagenet|None|path)."""
    app = APPLICATIONS[name]
    shape = (size, size, 3)
    if weights == "imagenet":
        try:
            return app(include_top=False, weights="imagenet", input_shape=shape, name=BACKBONE)
        except Exception as err:  # get_file raises a bare Exception for network failures
            raise FerLabError(
                f"the ImageNet weights for {name} could not be downloaded: {_one_line(err)}. To fix: "
                f"train from scratch with `model.weights=null`, or download {WEIGHT_FILES[name]} "
                f"(or use a .weights.h5 saved from the backbone) and pass `model.weights=/path/to/"
                f"{WEIGHT_FILES[name]}`. Keras caches downloaded weights in ~/.keras/models "
                "($KERAS_HOME/models); a file placed there is used without a download."
            ) from None
    if weights is not None and not str(weights).endswith(".h5"):
        require(False, "model.weights", weights,
                "imagenet | null (random init) | a path to a .h5 or .weights.h5 weights file")
    backbone = app(include_top=False, weights=None, input_shape=shape, name=BACKBONE)
    if weights is not None:
        _load_weights(backbone, Path(str(weights)).expanduser(), name)
    return backbone


def _load_weights(backbone: keras.Model, path: Path, name: str) -> None:
    if not path.is_file():
        raise FerLabError(f"model.weights={path}: no such file. Pass an existing {name} weights file "
                          f"(e.g. {WEIGHT_FILES[name]}), `model.weights=imagenet` or `model.weights=null`.")
    with warnings.catch_warnings(record=True) as caught:  # keras warns (not raises) on skipped layers
        warnings.simplefilter("always")
        try:
            backbone.load_weights(str(path))
        except Exception as err:  # ValueError/KeyError/OSError for foreign or broken files
            raise _mismatch(path, name, _one_line(err)) from None
    skipped = [w for w in caught if "skipping" in str(w.message).lower()]
    if skipped:
        raise _mismatch(path, name, f"{len(skipped)} layers found no weights in it")


def _mismatch(path: Path, name: str, reason: str) -> FerLabError:
    return FerLabError(f"model.weights={path} does not hold {name} backbone weights (include_top=False): "
                       f"{reason}. Pass {WEIGHT_FILES[name]}, a .weights.h5 saved from a fer_lab {name} "
                       "backbone, or pick the matching model (model=vgg16 | model=resnet50v2).")


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())[:300].rstrip(".")
    return text or type(err).__name__


def has_backbone(model: keras.Model) -> bool:
    """True when `model` contains a pretrained backbone (a layer named "backbone")."""
    return any(layer.name == BACKBONE for layer in model.layers)


def caches_head_features(model_cfg: DictConfig, augmentation_cfg: DictConfig | None) -> bool:
    """Whether the frozen-backbone head phase trains on cached backbone features (model.fine_tune.cache_features).

    The backbone output of an image stays the same only without random augmentation layers and mixup.
    auto: cache then; false: never; true: cache, and an augmentation is an error.
    """
    setting = (model_cfg.get("fine_tune") or {}).get("cache_features", "auto")
    require(setting == "auto" or isinstance(setting, bool), "model.fine_tune.cache_features", setting,
            "auto | true | false")
    fixed = not any(augmentation_settings(augmentation_cfg).values())
    if setting is True and not fixed:
        raise FerLabError("model.fine_tune.cache_features=true needs fixed backbone outputs, but the augmentation "
                          "has random layers or mixup: set augmentation=none or model.fine_tune.cache_features=false.")
    return fixed and setting is not False


def set_backbone_trainable(model: keras.Model, trainable_top_layers: int | None) -> None:
    """Freeze the backbone (None or 0), unfreeze its top N layers (N > 0) or all of it (-1).

    N counts entries of backbone.layers from the top, as in the Keras fine-tuning guide.
    BatchNormalization layers always stay frozen. The head stays trainable. Recompile afterwards.
    A model without a backbone is left unchanged.
    """
    if not has_backbone(model):
        return
    n = trainable_top_layers or 0
    require(isinstance(n, int) and n >= -1, "model.fine_tune.unfreeze_top", trainable_top_layers,
            "-1 (whole backbone), 0 (frozen) or the number of top backbone layers to fine-tune")
    backbone = model.get_layer(BACKBONE)
    backbone.trainable = n != 0
    if n == 0:
        return
    first = 0 if n == -1 else max(len(backbone.layers) - n, 0)
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= first and not isinstance(layer, keras.layers.BatchNormalization)
