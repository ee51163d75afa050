"""Seeding and the optional determinism switch."""

from __future__ import annotations

import os

import keras
from omegaconf import DictConfig


def training_seed(cfg: DictConfig) -> int:
    """The seed of weights, shuffling and augmentation: `trainer.init_seed`, else the run seed.

    The run seed alone picks the validation rows, so runs that differ only in `trainer.init_seed` are independent
    ensemble members chosen on the same validation data.
    """
    init_seed = cfg.trainer.get("init_seed")
    return int(cfg.seed if init_seed is None else init_seed)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and the backend; with `deterministic`, also ask for deterministic kernels."""
    keras.utils.set_random_seed(seed)
    if not deterministic:
        return
    os.environ["TF_DETERMINISTIC_OPS"] = "1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true").strip()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # backend-specific switch, outside model and training-step code

        tf.config.experimental.enable_op_determinism()
    elif keras.backend.backend() == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
