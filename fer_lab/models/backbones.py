"""Pretrained keras.applications backbones fed from raw grayscale pixels, one shared config (ApplicationConfig).

Adding one is a module in fer_lab/models/ plus conf/model/<name>.yaml (`defaults: [<name>_schema, _self_]`):

    register_application("efficientnetb0", keras.applications.EfficientNetB0, preprocessing=None,
                         weights_file="efficientnetb0_notop.h5")

Resizing, gray->RGB and the backbone's own preprocessing are built-in layers inside the model, so a saved model
takes raw 0..255 pixels and loads anywhere without custom code.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.errors import FerLabError
from fer_lab.models.arch import MODELS, ModelConfig
from fer_lab.models.augmentation import augmentation_settings
from fer_lab.models.head import check_head, classifier_head, l2_regularizer

BACKBONE = "backbone"  # layer name of the backbone sub-model: model.get_layer(BACKBONE)
MIN_INPUT_SIZE = 32
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # 'caffe' mode; BGR order is moot for replicated gray

# keras.applications' preprocess_input modes, for RGB 0..255 input, as built-in layers
PREPROCESSING: dict[str, Callable[[], keras.layers.Layer]] = {
    "caffe": lambda: keras.layers.Normalization(
        mean=IMAGENET_BGR_MEAN, variance=(1.0, 1.0, 1.0), name="preprocess"
    ),  # subtract the ImageNet means
    "tf": lambda: keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess"),  # scale to [-1, 1]
}


@dataclass
class HeadConfig:
    dense: list[int] = field(default_factory=list)  # hidden dense layers (units) after global average pooling
    dropout: float = 0.0  # dropout after every hidden dense layer, in [0, 1)


@dataclass
class ApplicationConfig(ModelConfig):
    """augmentation (training only) -> Resizing to input_size -> gray replicated to RGB -> the backbone's own
    preprocessing -> the backbone without its top (BatchNorm layers always frozen: they keep the ImageNet
    statistics) -> GlobalAveragePooling -> head."""

    weights: str | None = "imagenet"  # imagenet (downloaded once to ~/.keras/models) | null (random) | a .h5 file
    input_size: int = 96  # side the images are resized to (>= 32); 96 is CPU-friendly, 224 is ImageNet's
    l2: float = 0.0  # L2 weight decay on the head's dense kernels; 0 disables
    head: HeadConfig = field(default_factory=HeadConfig)


@dataclass(frozen=True)
class Application:
    """A keras.applications backbone registered as a model.arch: the builder MODELS holds for it."""

    name: str
    application: Callable[..., keras.Model]  # e.g. keras.applications.VGG16
    preprocessing: str | None  # its preprocess_input mode (a key of PREPROCESSING), or None: done inside it
    weights_file: str  # the notop ImageNet weights file Keras downloads (named in error messages)

    def __call__(self, x, cfg: DictConfig, image_size: int, num_classes: int):
        """Raw gray pixels -> resize -> RGB -> preprocess -> backbone (BN frozen) -> GAP -> head."""
        size = cfg.input_size
        require(
            size >= MIN_INPUT_SIZE,
            "model.input_size",
            size,
            f"an integer >= {MIN_INPUT_SIZE} (the smallest input {self.name} accepts); 96 is quick on CPU, "
            "224 is the ImageNet size",
        )
        units, dropout = check_head(cfg.head.dense, cfg.head.dropout, "model.head.dense", "model.head.dropout")
        regularizer = l2_regularizer(cfg.l2)
        backbone = self.backbone(None if cfg.get("init_from") else cfg.weights, size)  # init_from brings them

        if size != image_size:
            x = keras.layers.Resizing(size, size, name="resize")(x)
        x = keras.layers.Concatenate(axis=-1, name="to_rgb")([x, x, x])
        if self.preprocessing:
            x = PREPROCESSING[self.preprocessing]()(x)
        # Keras 3 lets fit()'s training=True override this training=False; BatchNormalization still runs in
        # inference mode while set_body_trainable keeps a BN layer trainable=False (unless train_batchnorm).
        x = backbone(x, training=False)
        x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
        return classifier_head(x, units, dropout, regularizer, num_classes)

    def backbone(self, weights: str | None, size: int) -> keras.Model:
        """The application without its top, named "backbone", with `weights` (imagenet | None | a file)."""
        shape = (size, size, 3)
        if weights == "imagenet":
            try:
                return self.application(include_top=False, weights="imagenet", input_shape=shape, name=BACKBONE)
            except Exception as err:  # get_file raises a bare Exception for network failures
                raise FerLabError(
                    f"the ImageNet weights for {self.name} could not be downloaded: {_one_line(err)}. To fix: "
                    f"train from scratch with `model.weights=null`, or download {self.weights_file} "
                    f"(or use a .weights.h5 saved from the backbone) and pass `model.weights=/path/to/"
                    f"{self.weights_file}`. Keras caches downloaded weights in ~/.keras/models "
                    "($KERAS_HOME/models); a file placed there is used without a download."
                ) from None
        require(
            weights is None or str(weights).endswith(".h5"),
            "model.weights",
            weights,
            "imagenet | null (random init) | a path to a .h5 or .weights.h5 weights file",
        )
        backbone = self.application(include_top=False, weights=None, input_shape=shape, name=BACKBONE)
        if weights is not None:
            self._load_weights(backbone, Path(str(weights)).expanduser())
        return backbone

    def _load_weights(self, backbone: keras.Model, path: Path) -> None:
        if not path.is_file():
            raise FerLabError(
                f"model.weights={path}: no such file. Pass an existing {self.name} weights file "
                f"(e.g. {self.weights_file}), `model.weights=imagenet` or `model.weights=null`."
            )
        with warnings.catch_warnings(record=True) as caught:  # keras warns (not raises) on skipped layers
            warnings.simplefilter("always")
            try:
                backbone.load_weights(str(path))
            except Exception as err:  # ValueError/KeyError/OSError for foreign or broken files
                raise self._mismatch(path, _one_line(err)) from None
        skipped = [w for w in caught if "skipping" in str(w.message).lower()]
        if skipped:
            raise self._mismatch(path, f"{len(skipped)} layers found no weights in it")

    def _mismatch(self, path: Path, reason: str) -> FerLabError:
        others = " | ".join(f"model={name}" for name in application_names())
        return FerLabError(
            f"model.weights={path} does not hold {self.name} backbone weights (include_top=False): "
            f"{reason}. Pass {self.weights_file}, a .weights.h5 saved from a fer_lab {self.name} "
            f"backbone, or pick the matching model ({others})."
        )


def register_application(
    name: str, application: Callable[..., keras.Model], *, preprocessing: str | None, weights_file: str
) -> Application:
    """Register keras.applications `application` as model.arch `name`, with ApplicationConfig as its schema.

    preprocessing: its preprocess_input mode for RGB 0..255 input ("caffe": subtract the ImageNet means; "tf":
    scale to [-1, 1]), or None when the application preprocesses inside (e.g. EfficientNet).
    weights_file: the name of the notop ImageNet weights file Keras downloads for it.
    """
    if preprocessing is not None and preprocessing not in PREPROCESSING:
        raise ValueError(f"preprocessing={preprocessing!r}: expected None or one of {', '.join(PREPROCESSING)}")
    builder = Application(name, application, preprocessing, weights_file)
    MODELS.register(name, ApplicationConfig)(builder)
    return builder


def application_names() -> tuple[str, ...]:
    """The model.arch names of the registered keras.applications backbones."""
    return tuple(name for name in MODELS.names() if isinstance(MODELS[name], Application))


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())[:300].rstrip(".")
    return text or type(err).__name__


def has_backbone(model: keras.Model) -> bool:
    """True when `model` contains a pretrained backbone (a layer named "backbone")."""
    return any(layer.name == BACKBONE for layer in model.layers)


def caches_head_features(model_cfg: DictConfig, augmentation_cfg: DictConfig | dict | None) -> bool:
    """Whether the frozen-backbone head phase trains on cached backbone features (model.fine_tune.cache_features).

    The backbone output of an image stays the same only without random augmentation layers and mixup.
    auto: cache then; false: never; true: cache, and an augmentation is an error.
    """
    setting = (model_cfg.get("fine_tune") or {}).get("cache_features", "auto")
    require(
        setting == "auto" or isinstance(setting, bool), "model.fine_tune.cache_features", setting, "auto | true | false"
    )
    fixed = not any(augmentation_settings(augmentation_cfg).values())
    if setting is True and not fixed:
        raise FerLabError(
            "model.fine_tune.cache_features=true needs fixed backbone outputs, but the augmentation "
            "has random layers or mixup: set augmentation=none or model.fine_tune.cache_features=false."
        )
    return fixed and setting is not False
