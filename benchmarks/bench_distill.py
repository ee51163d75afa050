"""Distillation cost: the teacher's outputs computed once per training image against per batch on augmented views.

    .venv/bin/python benchmarks/bench_distill.py [--data data] [--members 2] [--steps 60] [--quick]

The student is cnn_cpu_budget's net and recipe (custom_cnn on 42-px crops, light augmentation, batch 64). The
teacher is an ensemble of --members copies of the bundled reference model (its speed does not depend on which
weights the members hold). Measured side by side in one run on the FER-2013 training split:
- the student's training step (img/s over --steps batches of one fit(), after --warmup batches),
- the teacher's forward pass: one view per image (what a per-batch teacher adds to every step: it must see the
  augmented view the student sees, so no TTA) and ten-crop TTA (what fer_lab computes once per training image).
From these: CPU seconds per epoch, and epochs that fit into cnn_cpu_budget's 110 minutes of training.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from bench_throughput import BATCH, compose, fit_rate, timed, training_arrays

from fer_lab.evaluation.tta import predict_with_tta
from fer_lab.inference.loading import load_model
from fer_lab.models import build_model
from fer_lab.models.ensemble import build_ensemble
from fer_lab.tracking.hardware import cpu_description
from fer_lab.training.fit import compile_model

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 110 * 60
TRAIN_IMAGES = 25702  # cnn_cpu_budget's training split: FER-2013 Training minus the stratified 10% validation
FULL = {"steps": 60, "warmup": 5, "images": 2048}
QUICK = {"steps": 2, "warmup": 1, "images": 128}


def student_rate(x, y, warmup: int, steps: int) -> float:
    """Training img/s of cnn_cpu_budget's net with its augmentation, loss and optimizer."""
    cfg = compose("+experiment=cnn_cpu_budget")
    model = build_model(cfg.model, cfg.augmentation, (48, 48, 1), y.shape[1])
    compile_model(model, cfg, float(cfg.optimizer.learning_rate))
    return fit_rate(model, warmup, steps, x=x, y=y, batch_size=BATCH, shuffle=True)


def teacher_rate(teacher, x, tta: str) -> float:
    """Images per second through the teacher with test-time augmentation `tta`, after one untimed batch."""
    predict_with_tta(teacher, x[:BATCH], tta, batch_size=BATCH)
    seconds, _ = timed(lambda: predict_with_tta(teacher, x, tta, batch_size=BATCH))
    return len(x) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="folder with fer2013.csv.gz")
    parser.add_argument("--members", type=int, default=2, help="models in the teacher ensemble (1: one model)")
    parser.add_argument("--steps", type=int, help=f"timed student batches (default {FULL['steps']})")
    parser.add_argument("--warmup", type=int, help=f"untimed first student batches (default {FULL['warmup']})")
    parser.add_argument("--images", type=int, help=f"images through the teacher (default {FULL['images']})")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    args = parser.parse_args()
    settings = {key: getattr(args, key) or value for key, value in (QUICK if args.quick else FULL).items()}
    warmup, steps = max(1, settings["warmup"]), settings["steps"]
    x, y, origin = training_arrays(args.data, max((warmup + steps) * BATCH, settings["images"]))

    student = student_rate(x, y, warmup, steps)
    members = [load_model("bundled")[0] for _ in range(args.members)]
    teacher = members[0] if args.members == 1 else build_ensemble(members, 48)
    probe = x[: settings["images"]]
    one_view, ten_crop = teacher_rate(teacher, probe, "none"), teacher_rate(teacher, probe, "crops")

    epoch = TRAIN_IMAGES / student
    per_batch = TRAIN_IMAGES / one_view
    once = TRAIN_IMAGES / ten_crop
    print(f"\n{origin}; {cpu_description()}; Keras {keras.__version__}, backend {keras.backend.backend()}")
    print(
        f"\nStudent: cnn_cpu_budget, {student:.0f} img/s in training ({steps} batches of {BATCH} after {warmup}). "
        f"Teacher: {args.members} x the bundled model, {one_view:.0f} img/s with one view, "
        f"{ten_crop:.0f} img/s with ten-crop TTA ({len(probe)} images). Epoch: {TRAIN_IMAGES} training images.\n"
    )
    print(
        "| teacher outputs | teacher CPU, once | teacher CPU per epoch | seconds per epoch | epochs in 110 min "
        "| epochs vs labels only |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    rows = [
        ("none (labels only)", 0.0, 0.0),
        ("once per image, ten-crop TTA (fer_lab)", once, 0.0),
        ("per batch, on the augmented view", 0.0, per_batch),
    ]
    base = BUDGET_S / epoch
    for label, first, each in rows:
        epochs = BUDGET_S / (epoch + each)
        print(
            f"| {label} | {first / 60:.1f} min | {each:.0f} s | {epoch + each:.0f} | {epochs:.0f} "
            f"| {epochs / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
