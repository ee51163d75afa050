"""training.teacher: knowledge distillation by soft targets. The teacher scores every training image once (with
its test-time augmentation, cached by the teacher's weights and the images), and the student trains on
(1 - w) * labels + w * the teacher's probabilities softened by a temperature. Validation and test keep their
labels.

Precomputed rather than per batch: a per-batch teacher runs a forward pass of every member for every augmented
view in every epoch, more than the student's own step on a CPU; once per image it costs one pass in total."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace

import numpy as np
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.data import FerData, cache
from fer_lab.errors import FerLabError


@dataclass(frozen=True)
class Distilled:
    data: FerData  # train targets mixed with the teacher's; val and test as they were
    line: str  # what was done, for the console
    teacher_seconds: float  # seconds the teacher took to score the training images (in the run that cached them)


def with_teacher_targets(data: FerData, cfg: DictConfig, tracking_uri: str | None = None) -> Distilled:
    """`data` with its train targets mixed with the teacher's softened outputs."""
    from fer_lab.inference.loading import load_model

    training = cfg.training
    weight, temperature = float(training.distill_weight), float(training.distill_temperature)
    require(
        0 < weight <= 0.5,
        "training.distill_weight",
        weight,
        "a number in (0, 0.5]: the labels keep at least half of every target",
    )
    require(temperature > 0, "training.distill_temperature", temperature, "a number > 0 (1: as is, 2: softer)")
    try:
        teacher, meta = load_model(str(training.teacher), tracking_uri)
    except FerLabError as err:
        raise FerLabError(f"training.teacher={training.teacher}: {err}") from None
    if meta.class_names != tuple(data.class_names) or meta.image_size != data.train.x.shape[1]:
        raise FerLabError(
            f"training.teacher={training.teacher} predicts {', '.join(meta.class_names)} on "
            f"{meta.image_size}px images; the data has {', '.join(data.class_names)} at "
            f"{data.train.x.shape[1]}px: pick a teacher trained on these classes and image size"
        )
    tta = str(training.teacher_tta)
    scored, note = cache.cached(
        "teacher",
        lambda: _digest(teacher, data.train.x),
        {"tta": tta, "arrays": "probs,seconds"},
        lambda: _score(teacher, data.train.x, tta),
    )
    seconds = float(scored["seconds"])
    soft = soften(scored["probs"], temperature)
    train = replace(
        data.train,
        y=((1 - weight) * data.train.y + weight * soft).astype(np.float32),
        origin=f"{data.train.origin}, targets {1 - weight:g} labels + {weight:g} teacher",
    )
    line = (
        f"distilling from {training.teacher} ({meta.model_name}, tta={tta}, T={temperature:g}, "
        f"weight {weight:g}); the teacher scored {len(train)} training images in {seconds / 60:.1f} min"
        + (f"; teacher outputs {note}" if note else "")
    )
    return Distilled(replace(data, train=train), line, seconds)


def _score(teacher, x: np.ndarray, tta: str) -> dict[str, np.ndarray]:
    """The teacher's probabilities on `x` and the seconds they took."""
    from fer_lab.evaluation.tta import predict_with_tta

    start = time.perf_counter()
    probs = predict_with_tta(teacher, x, tta)
    return {"probs": probs, "seconds": np.array(time.perf_counter() - start)}


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """probs ** (1 / T), renormalised per row: the softmax of the teacher's logits divided by T."""
    logits = np.log(np.clip(probs, 1e-8, 1.0)) / temperature
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _digest(model, x: np.ndarray) -> str:
    """Hash of the teacher's weights and the training images."""
    h = hashlib.blake2b(digest_size=20)
    for w in model.weights:
        h.update(np.ascontiguousarray(w.numpy()).tobytes())
    h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()
