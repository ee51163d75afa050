"""`python -m fer_lab.promote`: champion goes to the best registered version by a validation metric only."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from fer_lab import promote
from fer_lab.tracking import configure_tracking
from fer_lab.tracking.registry import CHAMPION


def _version(name: str, **metrics) -> str:
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
    client = MlflowClient()
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    return client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id).version


def _refusal(argv: list[str], capsys) -> str:
    """stderr of a promote command that must exit with the user-error code 2."""
    with pytest.raises(SystemExit) as exit_info:
        promote.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_promote_picks_the_best_validation_metric_never_test(state_root, capsys):
    configure_tracking(None)
    _version("p", val_macro_f1=0.40, val_accuracy=0.70, test_macro_f1=0.90)
    best = _version("p", val_macro_f1=0.55, val_accuracy=0.60, test_macro_f1=0.10)
    _version("p", val_accuracy=0.65)  # never logged val_macro_f1: not a candidate
    promote.main(["--metric", "val_macro_f1", "--name", "p"])
    assert MlflowClient().get_model_version_by_alias("p", CHAMPION).version == best
    assert f"version {best} (val_macro_f1=0.5500)" in capsys.readouterr().out

    assert "validation metrics only" in _refusal(["--metric", "test_macro_f1", "--name", "p"], capsys)
    assert MlflowClient().get_model_version_by_alias("p", CHAMPION).version == best


def test_promote_by_version_and_refusals_say_what_exists(state_root, capsys):
    configure_tracking(None)
    first = _version("q", val_accuracy=0.70)
    _version("q", val_accuracy=0.60)
    promote.main(["--name", "q", "--version", str(first)])
    assert MlflowClient().get_model_version_by_alias("q", CHAMPION).version == first
    assert f"version {first} (chosen by --version)" in capsys.readouterr().out

    assert "has no version 9; it has versions 1, 2" in _refusal(["--name", "q", "--version", "9"], capsys)
