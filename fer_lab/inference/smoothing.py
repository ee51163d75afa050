"""Temporal smoothing: an exponential moving average of each face's probabilities across frames."""

from __future__ import annotations

import numpy as np

from fer_lab.inference.faces import Box


class FaceSmoother:
    """Follows faces from frame to frame by box overlap and smooths their probabilities.

    p_t = (1 - strength) * p_new + strength * p_(t-1) for a face that overlaps (IoU >= min_iou) one of
    the previous frame; a new face starts fresh. strength 0 turns smoothing off. Each face gets a
    track id that stays the same while it is followed.
    """

    def __init__(self, strength: float = 0.0, min_iou: float = 0.3):
        self.strength, self.min_iou = strength, min_iou
        self._tracks: list[tuple[int, Box, np.ndarray]] = []
        self._next_id = 0

    def update(self, boxes: list[Box], probs: np.ndarray) -> tuple[list[int], np.ndarray]:
        """(track ids, smoothed probabilities) for this frame's faces."""
        free = list(self._tracks)
        ids, smoothed, tracks = [], [], []
        for box, p in zip(boxes, probs, strict=True):
            match = max(free, key=lambda t: box.iou(t[1]), default=None)
            if match is not None and box.iou(match[1]) >= self.min_iou:
                free.remove(match)
                track_id, p = match[0], (1.0 - self.strength) * p + self.strength * match[2]
            else:
                track_id, self._next_id = self._next_id, self._next_id + 1
            ids.append(track_id)
            smoothed.append(p)
            tracks.append((track_id, box, p))
        self._tracks = tracks
        return ids, np.asarray(smoothed, dtype="float32").reshape(np.shape(probs))
