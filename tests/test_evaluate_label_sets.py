"""Scoring a model on data with another label set (zero-shot), per fold: shared classes only, the rest said."""

from __future__ import annotations

import numpy as np
from test_data_class_folders import PATTERN, make_people
from test_init_from import source  # noqa: F401  (fixture: a saved 7-class cnn_tiny)

from fer_lab.evaluation.label_sets import score_shared_classes
from fer_lab.labels import EMOTIONS

MINE = ("angry", "happy", "sad", "contempt")


def test_only_shared_classes_are_scored_and_the_rest_is_reported():
    probs = np.zeros((5, 7), "float32")
    probs[0, EMOTIONS.index("angry")] = 1
    probs[1, EMOTIONS.index("neutral")], probs[1, EMOTIONS.index("sad")] = 0.6, 0.4  # neutral wins unrestricted
    probs[2, EMOTIONS.index("happy")] = 1
    probs[3:, EMOTIONS.index("happy")] = 1
    truth = np.array([0, 2, 1, 3, 3])  # angry, sad, happy, contempt, contempt
    report, notes = score_shared_classes(probs, truth, EMOTIONS, MINE, split="test", origin="fold 0", tta="none")
    assert report.per_class.keys() == {"angry", "happy", "sad"}
    assert report.accuracy == 1.0 and report.confusion.sum() == 3
    assert "not scored: images of classes the model does not have (contempt 2)" in notes
    assert any("no disgust, fear, surprise, neutral images" in n and "33.3%" in n for n in notes)


def test_zero_shot_over_every_fold_prints_mean_and_std_and_what_was_left_out(source, state_root, tmp_path, run_module):  # noqa: F811
    _, path, _ = source
    people = make_people(tmp_path / "people", subjects=9, frames=2, size=48)
    out = run_module(
        "fer_lab.evaluate",
        f"model_uri={path}",
        "data=class_folders",
        f"data.path={people}",
        f"data.group_pattern='{PATTERN}'",
        "data.folds=3",
        "data.class_map=[anger:angry,sadness:sad]",
        "evaluation.cross_validate=true",
        "tta=none",
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test over 3 folds (tta=none): accuracy" in out.stdout
    assert "not scored: images of classes the model does not have (contempt" in out.stdout
    assert "the 3 classes the model shares" in out.stdout
