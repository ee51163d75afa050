"""Training throughput: fer_lab's input pipeline against ImageDataGenerator, and cached head features.

    .venv/bin/python benchmarks/bench_throughput.py [--data data]
        [--cnns input_only,cnn_3block,custom_cnn] [--input-crop 42] [--precision mixed_bfloat16]
        [--models vgg16,resnet50v2] [--steps 100] [--images 1024] [--quick]

1. Augmented training input, batches of 64, for each CNN of --cnns (default: the input pipeline alone, then the
   classic cnn_3block and fer_lab's custom_cnn). `input_only` is a one-conv, four-filter probe whose compute
   is negligible, so its img/s is the pipeline's own speed (augmentation, batching, feeding).
   The usual pipeline of public FER projects: Keras' legacy ImageDataGenerator (rescale 1/255, scipy affine transform
   per image, Keras' default fit(workers=1): in the training loop) reading the JPEG folders (flow_from_directory) or
   numpy arrays (flow), feeding the CNN built without augmentation layers. Against fer_lab's: the same model with its
   augmentation layers inside, fit on numpy arrays. Same strengths (conf/augmentation/default.yaml without contrast,
   which ImageDataGenerator lacks; a last row keeps it). img/s over --steps batches after --warmup batches of one
   fit(). The in-model Rescaling then sees 0..1 pixels from the generator: same compute.
   A last row per real CNN trains it on random --input-crop crops (model.input_crop, as cnn_cpu_budget does):
   a smaller conv stack input, so it measures the compute saved, not the pipeline alone. With --precision, one
   more row trains that last configuration under the dtype policy (trainer.precision), e.g. mixed_bfloat16.
2. Head epochs of a frozen backbone (model.weights=null: speed does not depend on the weights;
   augmentation=none): one epoch of training images through the full frozen model, against building the
   feature cache once (fer_lab.training.feature_cache, includes one graph trace) plus one head epoch on it.
   Validation is left out of both (it adds a full-model pass per epoch without the cache).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from fer_lab.config import PRECISIONS
from fer_lab.data import load_dataset
from fer_lab.labels import EMOTIONS
from fer_lab.models import build_model
from fer_lab.tracking.hardware import cpu_description
from fer_lab.training.feature_cache import backbone_features, head_model
from fer_lab.training.fit import compile_model
from fer_lab.training.precision import dtype_policy

ROOT = Path(__file__).resolve().parents[1]
INPUT_ONLY = ("model=cnn_tiny", "model.blocks=[{filters:4,convs:1}]", "model.dense=[]")  # the pipeline alone
BATCH = 64
FULL = {"steps": 100, "warmup": 10, "images": 1024, "input_size": 96}
QUICK = {"steps": 2, "warmup": 1, "images": 2 * BATCH, "input_size": 32}


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import fer_lab.extensions  # noqa: F401  (config schemas, ${fer_lab_root:})
    from fer_lab.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=list(overrides))


def image_data_generator(aug):
    """Keras' ImageDataGenerator with the strengths of `aug` (an augmentation config)."""
    for module in ("scipy", "PIL"):
        try:
            __import__(module)
        except ImportError:
            sys.exit(
                f"ImageDataGenerator needs {module} (affine transforms, JPEG loading): "
                f"pip install {'pillow' if module == 'PIL' else module}"
            )
    # Keras 3 keeps it only as a legacy class (public name: tf.keras.preprocessing.image.ImageDataGenerator).
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    warnings.filterwarnings("ignore", message=".*scipy.ndimage.interpolation.*")
    return ImageDataGenerator(
        rescale=1 / 255,
        rotation_range=aug.rotation * 360,
        zoom_range=aug.zoom,
        width_shift_range=aug.translation,
        height_shift_range=aug.translation,
        horizontal_flip=aug.flip,
    )


def training_arrays(data: Path, need: int) -> tuple[np.ndarray, np.ndarray, str]:
    """FER-2013 Training images (fer_lab's loader) with one-hot labels, or random ones without the CSV."""
    csv = data / "fer2013.csv.gz"
    if csv.is_file():
        cfg = compose(f"data.path={csv}")
        train = load_dataset(cfg.data, seed=cfg.seed).train
        return train.x, train.y, f"FER-2013 training split of {csv} ({len(train)} images)"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (need, 48, 48, 1), dtype=np.uint8)
    y = np.eye(len(EMOTIONS), dtype="float32")[rng.integers(0, len(EMOTIONS), need)]
    return x, y, f"note: random arrays ({need} images), no {csv}"


class _BatchEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def fit_rate(model, warmup: int, steps: int, **inputs) -> float:
    """Training img/s over `steps` batches that follow `warmup` batches (graph tracing) in one fit()."""
    ends = _BatchEnds()
    model.fit(**inputs, epochs=1, steps_per_epoch=warmup + steps, callbacks=[ends], verbose=0)
    return BATCH * steps / (ends.times[-1] - ends.times[warmup - 1])


def pipelines(
    cnn: str, x, y, folder: Path, warmup: int, steps: int, crop: int, precision: str = "float32"
) -> list[tuple[str, float]]:
    """(pipeline, img/s) for each input pipeline that can run; a fresh `cnn` (model config) for each."""
    model_overrides = INPUT_ONLY if cnn == "input_only" else (f"model={cnn}",)
    matched = compose(*model_overrides, "augmentation=default", "augmentation.contrast=0.0")
    default = compose(*model_overrides, "augmentation=default")

    def model(aug, cfg=matched, policy="float32"):
        with dtype_policy(policy):
            m = build_model(cfg.model, aug, (48, 48, 1), len(EMOTIONS))
            compile_model(m, cfg, float(cfg.optimizer.learning_rate))
        return m

    generator = image_data_generator(matched.augmentation)
    rows = []
    if folder.is_dir():
        files = generator.flow_from_directory(
            str(folder), target_size=(48, 48), color_mode="grayscale", batch_size=BATCH, class_mode="categorical"
        )
        rows.append(("ImageDataGenerator.flow_from_directory", fit_rate(model(None), warmup, steps, x=files)))
    rows.append(
        ("ImageDataGenerator.flow", fit_rate(model(None), warmup, steps, x=generator.flow(x, y, batch_size=BATCH)))
    )
    arrays = {"x": x, "y": y, "batch_size": BATCH, "shuffle": True}
    rows.append(("fer_lab", fit_rate(model(matched.augmentation), warmup, steps, **arrays)))
    rows.append(
        (
            f"fer_lab, default preset (+ contrast {default.augmentation.contrast})",
            fit_rate(model(default.augmentation), warmup, steps, **arrays),
        )
    )
    last_label, last_cfg = "fer_lab, default preset", default
    if crop and cnn != "input_only":
        last_label = f"fer_lab, default preset, input_crop {crop}"
        last_cfg = compose(*model_overrides, "augmentation=default", f"model.input_crop={crop}")
        rows.append(
            (
                f"{last_label} (conv stack on {crop}-px crops)",
                fit_rate(model(last_cfg.augmentation, last_cfg), warmup, steps, **arrays),
            )
        )
    if precision != "float32" and cnn != "input_only":
        rows.append(
            (
                f"{last_label}, {precision}",
                fit_rate(model(last_cfg.augmentation, last_cfg, precision), warmup, steps, **arrays),
            )
        )
    return rows


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def head_epochs(name: str, x, y, input_size: int) -> dict[str, float]:
    """Seconds of one full frozen-model epoch, of the cache build and of one cached head epoch on x."""
    cfg = compose(f"model={name}", "model.weights=null", f"model.input_size={input_size}", "augmentation=none")
    lr = float(cfg.optimizer.learning_rate)
    model = build_model(cfg.model, cfg.augmentation, (48, 48, 1), len(EMOTIONS))  # built with the backbone frozen
    compile_model(model, cfg, lr)
    fit = {"batch_size": BATCH, "epochs": 1, "verbose": 0}
    model.fit(x[:BATCH], y[:BATCH], **fit)  # graph tracing
    full, _ = timed(lambda: model.fit(x, y, **fit))
    build, features = timed(lambda: backbone_features(model, x, BATCH))
    head = head_model(model)
    compile_model(head, cfg, lr, optimizer=model.optimizer)
    head.fit(features[:BATCH], y[:BATCH], **fit)
    cached, _ = timed(lambda: head.fit(features, y, **fit))
    return {
        "full": full,
        "build": build,
        "cached": cached,
        "head_epochs": int(cfg.model.fine_tune.head_epochs),
        "features": features.shape[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT / "data",
        help="folder with fer2013.csv.gz and/or fer2013/train/<emotion>/*.jpg",
    )
    parser.add_argument("--steps", type=int, help=f"timed batches per pipeline (default {FULL['steps']})")
    parser.add_argument("--warmup", type=int, help=f"untimed first batches, >= 1 (default {FULL['warmup']})")
    parser.add_argument("--images", type=int, help=f"training images for the head epochs (default {FULL['images']})")
    parser.add_argument("--input-size", type=int, help=f"backbone input side (default {FULL['input_size']})")
    parser.add_argument(
        "--cnns",
        default="input_only,cnn_3block,custom_cnn",
        help="model configs for the input pipelines, or input_only (the pipeline alone)",
    )
    parser.add_argument(
        "--input-crop", type=int, default=42, help="side of the extra input_crop row per real CNN (0 for none)"
    )
    parser.add_argument(
        "--precision",
        default="float32",
        choices=PRECISIONS,
        help="dtype policy of one more row per real CNN (float32: no extra row)",
    )
    parser.add_argument("--models", default="vgg16,resnet50v2", help="backbones for the head epochs ('' for none)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    args = parser.parse_args()
    settings = {key: getattr(args, key) or value for key, value in (QUICK if args.quick else FULL).items()}
    steps, warmup, images = settings["steps"], max(1, settings["warmup"]), settings["images"] // BATCH * BATCH
    need = max((warmup + steps) * BATCH, images)

    x, y, origin = training_arrays(args.data, need)
    if len(x) < need:
        sys.exit(f"{origin}: {need} images needed for --steps, --warmup and --images")
    folder = args.data / "fer2013" / "train"
    tables = {
        cnn: pipelines(cnn, x, y, folder, warmup, steps, args.input_crop, args.precision)
        for cnn in args.cnns.split(",")
        if cnn
    }
    heads = {
        name: head_epochs(name, x[:images], y[:images], settings["input_size"])
        for name in args.models.split(",")
        if name
    }

    print(
        f"\n{origin}; {cpu_description()}, "
        f"shared with other jobs; Keras {keras.__version__}, backend {keras.backend.backend()}"
    )
    if not folder.is_dir():
        print(f"note: no {folder}: flow_from_directory skipped")
    for cnn, rows in tables.items():
        print(f"\n### Augmented training input: {cnn}, batch {BATCH}, {steps} timed batches after {warmup}\n")
        print("| pipeline | img/s |")
        print("|---|---:|")
        for label, rate in rows:
            print(f"| {label} | {rate:.0f} |")
        baselines = [(label, rate) for label, rate in rows if label.startswith("ImageDataGenerator")]
        print("\n| speed-up of | " + " | ".join(f"over {label}" for label, _ in baselines) + " |")
        print("|---|" + "---:|" * len(baselines))
        for label, rate in rows:
            if label.startswith("fer_lab"):
                print(f"| {label} | " + " | ".join(f"{rate / base:.2f}x" for _, base in baselines) + " |")

    if not heads:
        return
    print(
        f"\n### Frozen-backbone head epochs: {images} training images, input {settings['input_size']}px, "
        f"batch {BATCH}, model.weights=null, augmentation=none\n"
    )
    print(
        "| model | features | full frozen model img/s | cache build img/s | cached head img/s "
        "| per-epoch speed-up | speed-up over head_epochs, cache build included |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in heads.items():
        epochs = r["head_epochs"]
        overall = epochs * r["full"] / (r["build"] + epochs * r["cached"])
        print(
            f"| {name} | {r['features']} | {images / r['full']:.0f} | {images / r['build']:.0f} "
            f"| {images / r['cached']:.0f} | {r['full'] / r['cached']:.1f}x | {overall:.1f}x ({epochs} epochs) |"
        )


if __name__ == "__main__":
    main()
