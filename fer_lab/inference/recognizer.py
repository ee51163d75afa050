"""EmotionRecognizer: the one inference API (registry model in, labels and probabilities out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_lab.config import REGISTERED_MODEL_NAME, TTA_MODES, require
from fer_lab.errors import FerLabError
from fer_lab.inference.detectors import make_detector
from fer_lab.inference.faces import Box, FaceDetector, crop_faces, to_gray
from fer_lab.inference.loading import load_model, load_model_file
from fer_lab.labels import EMOTIONS
from fer_lab.tracking.model_io import ModelMetadata, apply_temperature, registry_uri
from fer_lab.tracking.registry import CHAMPION

BATCH = 256
UNCERTAIN = "uncertain"
"""The label of a face whose top probability is below the threshold the caller asked for."""


@dataclass(frozen=True)
class Prediction:
    """The top label (UNCERTAIN when its probability is below the threshold asked for), its probability, and the
    probability of every class (in class order)."""

    label: str
    confidence: float
    probabilities: dict[str, float]

    @property
    def uncertain(self) -> bool:
        return self.label == UNCERTAIN


@dataclass(frozen=True)
class FacePrediction(Prediction):
    """A Prediction for one face found in a frame, with its box in frame pixels."""

    box: Box


class EmotionRecognizer:
    """A trained fer_lab model with its logged preprocessing (image size, face margin, class names) and temperatures.

    predict() classifies images that are already faces; detect_and_predict() finds the faces in a
    frame first. Models take raw 0..255 grayscale pixels: all scaling happens inside the model. The probabilities
    are the model's at `tta` scaled by its metadata's temperature for that mode (calibrated, when
    `python -m fer_lab.calibrate` fitted one).
    Each prediction method takes `uncertain_below` (0: off): a face whose top probability is below it is labelled
    UNCERTAIN.
    """

    def __init__(
        self,
        model,
        metadata: ModelMetadata,
        detector: FaceDetector | None = None,
        tta: str = "none",
        crop_fraction: float = 0.875,
    ):
        expected = (metadata.image_size, metadata.image_size, 1)
        actual = tuple(model.input_shape[1:])
        if actual != expected:
            raise FerLabError(
                f"model {metadata.model_name!r} expects input {actual} but its metadata says "
                f"{expected} ({metadata.image_size}x{metadata.image_size} grayscale); "
                "retrain and log it with fer_lab.train, or pass the right image_size"
            )
        outputs = model.output_shape[-1]
        if outputs != len(metadata.class_names):
            raise FerLabError(
                f"model {metadata.model_name!r} has {outputs} outputs but "
                f"{len(metadata.class_names)} class names; pass class_names that match"
            )
        require(tta in TTA_MODES, "tta", tta, " | ".join(TTA_MODES) + " (test-time augmentation, as evaluate's)")
        self.model, self.metadata, self.tta, self.crop_fraction = model, metadata, tta, crop_fraction
        self.detector = detector if detector is not None else make_detector()

    @classmethod
    def from_registry(
        cls, name: str = REGISTERED_MODEL_NAME, alias: str = CHAMPION, tracking_uri: str | None = None, **kwargs
    ) -> EmotionRecognizer:
        """The registered model `name` with `alias` (by default the champion of REGISTERED_MODEL_NAME)."""
        return cls.from_uri(registry_uri(name, alias), tracking_uri=tracking_uri, **kwargs)

    @classmethod
    def from_default(cls, tracking_uri: str | None = None, **kwargs) -> EmotionRecognizer:
        """models:/fer_lab@champion when the registry has it, else the bundled reference model."""
        from fer_lab.inference.catalog import default_model_uri

        return cls.from_uri(default_model_uri(tracking_uri), tracking_uri=tracking_uri, **kwargs)

    @classmethod
    def from_uri(cls, uri: str, tracking_uri: str | None = None, **kwargs) -> EmotionRecognizer:
        """models:/name@alias, models:/name/3, runs:/<run id>/model, an MLflow model folder, a .keras file,
        or `bundled` (the reference model shipped in the package)."""
        return cls(*load_model(uri, tracking_uri), **kwargs)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        class_names: Sequence[str] = EMOTIONS,
        image_size: int | None = None,
        face_margin: float = 0.0,
        model_name: str | None = None,
        **kwargs,
    ) -> EmotionRecognizer:
        """A local .keras file; what MLflow metadata would say is given here (image_size: the model's)."""
        return cls(*load_model_file(path, class_names, image_size, face_margin, model_name), **kwargs)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.metadata.class_names

    @property
    def image_size(self) -> int:
        return self.metadata.image_size

    def preprocess(self, images) -> np.ndarray:
        """Face images (one, a list, or an (N, H, W[, C]) array; gray, BGR or BGRA; any size) as model input."""
        if isinstance(images, np.ndarray) and images.ndim in (2, 3) and not _is_gray_batch(images):
            images = [images]
        faces = [to_gray(_pixels(image)) for image in images]
        return (
            np.concatenate(
                [crop_faces(face, [Box(0, 0, face.shape[1], face.shape[0])], self.image_size) for face in faces]
            )
            if faces
            else self._empty()
        )

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) for preprocessed faces (N, S, S, 1) 0..255, in batches of BATCH, scaled by the
        model's temperature for self.tta.

        predict_on_batch, not predict: for the few faces of a frame predict's per-call overhead
        costs more than the model itself.
        """
        x = np.asarray(faces, dtype="float32")
        chunks = [self._forward(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]
        if not chunks:
            return np.zeros((0, len(self.class_names)), dtype="float32")
        return apply_temperature(np.concatenate(chunks), self.metadata.temperature(self.tta))

    def predict(self, images, uncertain_below: float = 0.0) -> list[Prediction]:
        """Predictions for face images (see preprocess); whole photos need detect_and_predict."""
        return [self._prediction(p, uncertain_below) for p in self.predict_proba(self.preprocess(images))]

    def detect(self, frame: np.ndarray) -> tuple[list[Box], np.ndarray]:
        """Face boxes of a BGR or grayscale frame, and the frame's grayscale version."""
        gray = to_gray(frame)
        return self.detector(frame, gray), gray

    def crop(self, gray: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """Model input (N, S, S, 1) for the faces at `boxes`, with the training face margin."""
        return crop_faces(gray, boxes, self.image_size, self.metadata.face_margin)

    def detect_and_predict(self, frame: np.ndarray, uncertain_below: float = 0.0) -> list[FacePrediction]:
        """Every face of a frame (largest first), classified in one batch."""
        boxes, gray = self.detect(frame)
        probs = self.predict_proba(self.crop(gray, boxes))
        return [self.face_prediction(box, p, uncertain_below) for box, p in zip(boxes, probs, strict=True)]

    def face_prediction(self, box: Box, probs: np.ndarray, uncertain_below: float = 0.0) -> FacePrediction:
        p = self._prediction(probs, uncertain_below)
        return FacePrediction(p.label, p.confidence, p.probabilities, box)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of faces x averaged over the views of self.tta, all views in one batch."""
        from fer_lab.evaluation.tta import forward_with_tta  # imports Keras, loaded anyway once a model runs

        return forward_with_tta(self.model, x, self.tta, self.crop_fraction)

    def _prediction(self, probs: np.ndarray, uncertain_below: float) -> Prediction:
        return Prediction(
            top_label(probs, self.class_names, uncertain_below),
            float(np.max(probs)),
            {name: float(v) for name, v in zip(self.class_names, probs, strict=True)},
        )

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.image_size, self.image_size, 1), dtype="float32")


def top_label(probs: np.ndarray, class_names: Sequence[str], uncertain_below: float = 0.0) -> str:
    """The class of the highest of `probs`, or UNCERTAIN when it is below `uncertain_below`."""
    top = int(np.argmax(probs))
    return UNCERTAIN if probs[top] < uncertain_below else class_names[top]


def _pixels(image) -> np.ndarray:
    """uint8 or float32 pixels (the dtypes OpenCV's colour conversion takes)."""
    image = np.asarray(image)
    return image if image.dtype in (np.uint8, np.float32) else image.astype("float32")


def _is_gray_batch(images: np.ndarray) -> bool:
    """An (N, H, W) array is a batch of grayscale images unless its last axis looks like colour."""
    return images.ndim == 3 and images.shape[2] not in (1, 3, 4)
