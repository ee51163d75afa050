"""data.source=synthetic: expression faces for demos and tests, drawn with OpenCV, deterministic per seed.

Each class has its own mouth, brow and eye shapes (FER-2013 label order):
angry: V-shaped brows, narrowed eyes, short tight mouth | disgust: lowered uneven brows, squint, asymmetric
sneer, wrinkled nose | fear: raised inner brows, wide eyes, wide stretched open mouth | happy: smile arc |
sad: inner-raised brows, frown | surprise: raised arched brows, wide eyes, round open mouth |
neutral: flat brows, straight mouth.
Expression strength, face position, scale, rotation, brightness, contrast, blur and noise are jittered,
so the classes are learnable but overlap. Not real data: never report results on it as FER results.
Its held-out part is the "synthetic test" split (Usage PublicTest inside, so the usual split planning applies).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.data.sources import DATA_SOURCES, DataConfig, RawImages, raw_images
from fer_lab.labels import EMOTIONS

CANVAS = 96  # drawing resolution (pixels); images are rotated, scaled and resized from it
TEST_NAME = "synthetic test"  # how the held-out part (Usage PublicTest) is shown


@dataclass
class SyntheticConfig(DataConfig):
    """How many faces to draw, how to hold some out, how noisy."""

    samples_per_class: int = 120  # images drawn per class (deterministic for the run seed)
    val_fraction: float = 0.15
    test_fraction: float = 0.15  # stratified share of all images held out as the synthetic test split
    noise: float = 0.05  # Gaussian pixel noise std as a fraction of 255
    face_margin: float = 0.1


@DATA_SOURCES.register("synthetic", SyntheticConfig)
def load_synthetic(cfg: DictConfig, seed: int) -> RawImages:
    """samples_per_class faces per class drawn for `seed`, a stratified test_fraction held out."""
    n, test, noise = cfg.samples_per_class, cfg.test_fraction, cfg.noise
    require(n >= 10, "data.samples_per_class", n, "an integer >= 10")
    require(0 < test < 1, "data.test_fraction", test, "a number strictly between 0 and 1")
    require(
        cfg.val_fraction + test < 1,
        "data.val_fraction",
        cfg.val_fraction,
        f"a number below 1 - data.test_fraction ({test})",
    )
    require(0 <= noise <= 1, "data.noise", noise, "a number in [0, 1] (noise std as a fraction of 255)")
    arrays = generate(int(n), int(cfg.image_size), float(test), float(noise), seed)
    return raw_images(
        arrays,
        EMOTIONS,
        f"SYNTHETIC drawn faces (not real data; seed {seed}, {n} per class)",
        [],
        usage_names={"PublicTest": TEST_NAME},
    )


def generate(
    samples_per_class: int, image_size: int, test_fraction: float, noise: float, seed: int
) -> dict[str, np.ndarray]:
    """x (N,S,S,1) uint8, labels (N,), usage (N,): a stratified test_fraction of each class is held out
    (Usage PublicTest, shown as the synthetic test split)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(EMOTIONS)), samples_per_class)
    x = np.stack([_face(int(c), image_size, noise, rng) for c in labels])[..., None]
    usage = np.full(len(labels), "Training", dtype="<U10")
    n_test = round(test_fraction * samples_per_class)
    for c in range(len(EMOTIONS)):
        rows = np.flatnonzero(labels == c)
        usage[rng.choice(rows, n_test, replace=False)] = "PublicTest"
    note = (
        f"synthetic: {samples_per_class} drawn faces per class (seed {seed}); the {TEST_NAME} split is a "
        f"stratified {test_fraction * 100:g}% of them"
    )
    return {
        "x": x,
        "labels": labels,
        "usage": usage,
        "names": np.array([f"synthetic #{i + 1}" for i in range(len(labels))]),
        "notes": np.array([note]),
    }


def _face(label: int, size: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """One (size, size) uint8 face showing EMOTIONS[label]."""
    d = CANVAS
    background, skin = rng.uniform(20, 235), rng.uniform(110, 215)
    if abs(background - skin) < 35:
        background = skin - 60 if skin > 140 else skin + 60
    img = np.full((d, d), background, np.float32)
    img += np.linspace(-1, 1, d, dtype=np.float32)[None, :] * rng.uniform(-25, 25)  # side lighting
    cx, cy = d / 2, d * 0.52
    cv2.ellipse(
        img,
        _pt(cx, cy),
        _pt(d * rng.uniform(0.30, 0.36), d * rng.uniform(0.38, 0.44)),
        0,
        0,
        360,
        skin,
        -1,
        cv2.LINE_AA,
    )
    ink = skin - rng.uniform(70, 105)  # features are darker than skin
    s = rng.uniform(0.6, 1.3)  # expression strength
    _eyes(img, label, cx, cy, s, skin, ink, rng)
    _brows(img, label, cx, cy, s, ink, rng)
    cv2.line(img, _pt(cx, cy + d * 0.01), _pt(cx - d * 0.02, cy + d * 0.09), ink * 0.5 + skin * 0.5, 1, cv2.LINE_AA)
    _mouth(img, label, cx, cy, s, ink, rng)
    angle, scale = rng.uniform(-10, 10), rng.uniform(0.9, 1.1)
    m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[:, 2] += rng.uniform(-0.045, 0.045, 2) * d
    img = cv2.warpAffine(img, m, (d, d), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    img = (img - img.mean()) * rng.uniform(0.75, 1.25) + img.mean() + rng.uniform(-20, 20)
    img += rng.normal(0, noise * 255, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x), round(y)


def _eyes(img, label, cx, cy, s, skin, ink, rng) -> None:
    d = CANVAS
    height = {0: 0.022, 1: 0.018, 2: 0.05, 3: 0.026, 4: 0.03, 5: 0.055, 6: 0.032}[label]
    height = d * (0.032 + (height - 0.032) * s)
    for side in (-1, 1):
        ex, ey = cx + side * d * 0.14, cy - d * 0.10
        cv2.ellipse(img, _pt(ex, ey), _pt(d * 0.06, max(height, 1)), 0, 0, 360, min(skin + 45, 255), -1, cv2.LINE_AA)
        cv2.circle(img, _pt(ex + rng.uniform(-1.5, 1.5), ey), max(int(min(height, d * 0.03)), 1), ink, -1, cv2.LINE_AA)


def _brows(img, label, cx, cy, s, ink, rng) -> None:
    """Inner and outer brow-end heights (negative is up, fraction of canvas) encode the class."""
    d = CANVAS
    inner, outer, arch = {
        0: (0.05, -0.025, 0),
        1: (0.03, 0.01, 0),
        2: (-0.06, -0.02, 0.0),
        3: (-0.01, -0.01, 0.01),
        4: (-0.055, 0.02, 0),
        5: (-0.06, -0.05, 0.03),
        6: (0.0, 0.0, 0.0),
    }[label]
    thickness = int(rng.integers(2, 4))
    for side in (-1, 1):
        lift = -0.02 * s if label == 1 and side == 1 else 0.0  # disgust: uneven brows
        base = cy - d * 0.19
        a = (cx + side * d * 0.05, base + d * (inner * s + lift))
        b = (cx + side * d * 0.14, base + d * ((inner + outer) / 2 * s - arch * s + lift))
        c = (cx + side * d * 0.23, base + d * (outer * s + lift))
        pts = np.array([_pt(*a), _pt(*b), _pt(*c)], np.int32)
        cv2.polylines(img, [pts], False, ink, thickness, cv2.LINE_AA)


def _mouth(img, label, cx, cy, s, ink, rng) -> None:
    d = CANVAS
    my = cy + d * 0.22
    thick = int(rng.integers(2, 4))
    if label == 0:  # angry: short tight pressed mouth, slightly down
        w = d * 0.08
        cv2.line(img, _pt(cx - w, my + d * 0.01 * s), _pt(cx + w, my + d * 0.01 * s), ink, thick + 1, cv2.LINE_AA)
    elif label == 1:  # disgust: sneer, one corner pulled up; wrinkled nose
        pts = np.array(
            [_pt(cx - d * 0.11, my + d * 0.01), _pt(cx, my - d * 0.01 * s), _pt(cx + d * 0.11, my - d * 0.05 * s)],
            np.int32,
        )
        cv2.polylines(img, [pts], False, ink, thick, cv2.LINE_AA)
        for k in (-1, 1):
            cv2.line(
                img, _pt(cx + k * d * 0.035, cy - d * 0.03), _pt(cx + k * d * 0.06, cy + d * 0.02), ink, 1, cv2.LINE_AA
            )
    elif label == 2:  # fear: wide stretched, slightly open
        cv2.ellipse(img, _pt(cx, my), _pt(d * (0.10 + 0.04 * s), d * 0.025 * s + 1), 0, 0, 360, ink, -1, cv2.LINE_AA)
    elif label == 3:  # happy: smile arc, sometimes open
        axes = _pt(d * 0.13, d * 0.07 * s + 1)
        if rng.random() < 0.5:
            cv2.ellipse(img, _pt(cx, my - d * 0.04), axes, 0, 0, 180, ink, -1, cv2.LINE_AA)
        else:
            cv2.ellipse(img, _pt(cx, my - d * 0.04), axes, 0, 0, 180, ink, thick, cv2.LINE_AA)
    elif label == 4:  # sad: frown arc
        cv2.ellipse(img, _pt(cx, my + d * 0.04), _pt(d * 0.11, d * 0.05 * s + 1), 0, 180, 360, ink, thick, cv2.LINE_AA)
    elif label == 5:  # surprise: round open mouth
        cv2.ellipse(
            img, _pt(cx, my + d * 0.01), _pt(d * 0.05 * s + 2, d * 0.075 * s + 2), 0, 0, 360, ink, -1, cv2.LINE_AA
        )
    else:  # neutral: straight mouth
        w = d * rng.uniform(0.10, 0.14)
        cv2.line(img, _pt(cx - w, my), _pt(cx + w, my), ink, thick, cv2.LINE_AA)
