"""Mixup batches (Zhang et al. 2018) fed from in-memory numpy arrays, backend-agnostic."""

from __future__ import annotations

import math

import keras
import numpy as np


class MixupBatches(keras.utils.PyDataset):
    """Shuffled batches where each image is blended with a random partner: x = l*a + (1-l)*b.

    Labels blend the same way; per-sample class weights (if given) follow the blended labels.
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, batch_size: int, alpha: float, class_weights: np.ndarray | None, seed: int
    ):
        super().__init__()
        self.x, self.y, self.batch_size, self.alpha = x, y, batch_size, alpha
        self.class_weights = class_weights
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        idx = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        partner = self.rng.permutation(idx)
        lam = self.rng.beta(self.alpha, self.alpha, size=len(idx)).astype("float32")
        lam_x = lam[:, None, None, None]
        x = lam_x * self.x[idx].astype("float32") + (1 - lam_x) * self.x[partner].astype("float32")
        y = lam[:, None] * self.y[idx] + (1 - lam[:, None]) * self.y[partner]
        if self.class_weights is None:
            return x, y
        return x, y, y @ self.class_weights

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.x))
