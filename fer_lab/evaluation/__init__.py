"""Evaluation: test-time augmentation, per-split metrics and the figures that show them."""

from fer_lab.evaluation.leakage import UnseenTestReport, unseen_test_report
from fer_lab.evaluation.metrics import SplitReport, evaluate_split
from fer_lab.evaluation.tta import predict_with_tta

__all__ = ["SplitReport", "UnseenTestReport", "evaluate_split", "predict_with_tta", "unseen_test_report"]
