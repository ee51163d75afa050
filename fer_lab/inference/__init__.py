"""Inference: face detection, the EmotionRecognizer API, overlays and video input/output."""

from fer_lab.inference.detectors import make_detector
from fer_lab.inference.faces import Box
from fer_lab.inference.recognizer import EmotionRecognizer, FacePrediction, Prediction

__all__ = ["Box", "EmotionRecognizer", "FacePrediction", "Prediction", "make_detector"]
