"""`python -m fer_lab.evaluate`: a val score only on the model's own validation rows, a test score never on them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from omegaconf import OmegaConf

from fer_lab.data import Split
from fer_lab.errors import FerLabError
from fer_lab.evaluation.held_out import require_honest_split
from fer_lab.training import run as train_run

TINY_DATA = ("data=synthetic", "data.samples_per_class=12")


def _split(name: str, fill: int) -> Split:
    return Split(name, np.full((4, 48, 48, 1), fill, np.uint8), np.eye(7, dtype=np.float32)[[0, 1, 2, 3]], "rows")


def _run(validated_on: Split | None, **params: str):
    tags = {"data.val_fingerprint": validated_on.fingerprint()} if validated_on else {}
    return SimpleNamespace(data=SimpleNamespace(tags=tags, params=params))


CFG = OmegaConf.create({"seed": 42, "split": "val", "data": {"source": "csv", "val_fraction": 0.1, "path": "fer.csv"}})


def test_val_must_be_the_rows_the_model_was_validated_on():
    own, other = _split("val", 1), _split("val", 2)
    run = _run(own, **{"seed": "7", "data.val_fraction": "0.1", "data.path": "fer.csv", "model.name": "x"})
    assert require_honest_split(own, "m", run, CFG) is None
    with pytest.raises(
        FerLabError,
        match=r"inflated\. Score its own validation rows: pass its training run's "
        r"settings seed=7$",
    ):
        require_honest_split(other, "m", run, CFG)
    other_source = _run(own, **{"data.source": "ferplus", "data.votes_path": "votes.csv", "data.path": "None"})
    with pytest.raises(FerLabError, match=r"settings data.path=null data.source=ferplus \+data.votes_path=votes.csv$"):
        require_honest_split(other, "m", other_source, CFG)
    same_settings = _run(own, seed="42", **{"data.val_fraction": "0.1", "data.path": "fer.csv"})
    with pytest.raises(FerLabError, match=r"point data\.path at the dataset it was trained on"):
        require_honest_split(other, "m", same_settings, CFG)


def test_test_must_not_be_the_rows_the_model_was_validated_on():
    validated_on = _split("val", 1)
    with pytest.raises(FerLabError, match="not a test score"):
        require_honest_split(_split("test", 1), "m", _run(validated_on), CFG)
    assert require_honest_split(_split("test", 2), "m", _run(validated_on), CFG) is None


def test_an_unknown_training_run_gives_a_note():
    for run in (None, _run(None)):
        assert "cannot check which rows m was validated on" in require_honest_split(_split("val", 1), "m", run, CFG)


def test_evaluate_refuses_a_val_split_of_another_seed(state_root, compose_train, run_module):
    overrides = (
        *TINY_DATA,
        "model=cnn_tiny",
        "augmentation=none",
        "trainer.epochs=1",
        "trainer.batch_size=16",
        "evaluation.sample_grid=4",
        "mlflow.registered_model_name=e2e",
    )
    run_id = train_run.run_training(compose_train(*overrides)).run_id

    def evaluate(*args: str):
        return run_module(
            "fer_lab.evaluate", f"model_uri=runs:/{run_id}/model", *TINY_DATA, "split=val", "tta=none", *args
        )

    refused = evaluate("seed=7")
    assert refused.returncode == 2, refused.stderr
    assert "pass its training run's settings seed=42" in refused.stderr
    assert "Traceback" not in refused.stderr
    scored = evaluate()
    assert scored.returncode == 0, scored.stderr
    assert "tta=none): accuracy" in scored.stdout
