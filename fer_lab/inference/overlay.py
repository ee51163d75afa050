"""Draw face boxes, labels, confidences, a probability bar chart and the FPS onto a BGR frame."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer_lab.inference.recognizer import FacePrediction

FONT = cv2.FONT_HERSHEY_SIMPLEX
BAR_WIDTH = 70
ROW_HEIGHT = 11
PALETTE = [
    (60, 60, 230),
    (60, 160, 60),
    (180, 80, 160),
    (40, 200, 240),
    (200, 120, 40),
    (230, 200, 40),
    (190, 190, 190),
    (120, 120, 255),
]
"""BGR colour of each class, in class order."""
UNCERTAIN_COLOR = (128, 128, 128)


def draw_faces(
    frame: np.ndarray, faces: Sequence[FacePrediction], class_names: Sequence[str], fps: float | None = None
) -> np.ndarray:
    """Annotate `frame` in place (and return it)."""
    for face in faces:
        _draw_face(frame, face, class_names)
    if fps is not None:
        cv2.putText(frame, f"{fps:.1f} FPS", (8, 22), FONT, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(frame, f"{fps:.1f} FPS", (8, 22), FONT, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


def _draw_face(frame: np.ndarray, face: FacePrediction, class_names: Sequence[str]) -> None:
    b = face.box
    color = UNCERTAIN_COLOR if face.uncertain else PALETTE[class_names.index(face.label) % len(PALETTE)]
    cv2.rectangle(frame, (b.x, b.y), (b.x + b.w, b.y + b.h), color, 2)
    text = f"{face.label} {face.confidence:.0%}"
    (tw, th), _ = cv2.getTextSize(text, FONT, 0.55, 1)
    top = b.y - th - 8 if b.y - th - 8 >= 0 else b.y + b.h
    cv2.rectangle(frame, (b.x, top), (b.x + tw + 6, top + th + 8), color, -1)
    cv2.putText(frame, text, (b.x + 3, top + th + 4), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    _draw_bars(frame, face, class_names, b.x + b.w + 6, b.y)


def _draw_bars(frame: np.ndarray, face: FacePrediction, class_names: Sequence[str], x: int, y: int) -> None:
    """One bar per class: 3-letter name, then a bar as long as its probability."""
    height, width = frame.shape[:2]
    chart_width = 30 + BAR_WIDTH
    if x + chart_width > width:
        x = max(0, face.box.x - chart_width - 6)
    y = min(max(y, 0), max(0, height - ROW_HEIGHT * len(class_names)))
    cv2.rectangle(frame, (x - 2, y), (x + chart_width, y + ROW_HEIGHT * len(class_names) + 2), (0, 0, 0), -1)
    for i, name in enumerate(class_names):
        row = y + i * ROW_HEIGHT
        p = face.probabilities[name]
        cv2.putText(frame, name[:3], (x, row + ROW_HEIGHT - 2), FONT, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.rectangle(frame, (x + 28, row + 2), (x + 28 + BAR_WIDTH, row + ROW_HEIGHT - 1), (50, 50, 50), -1)
        cv2.rectangle(
            frame,
            (x + 28, row + 2),
            (x + 28 + round(p * BAR_WIDTH), row + ROW_HEIGHT - 1),
            PALETTE[i % len(PALETTE)],
            -1,
        )
