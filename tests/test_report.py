"""`python -m fer_lab.report`: one model on several sources, one table row each, printed, written and logged."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

IMAGES = 12  # per class folder


def _folders(root: Path, names: tuple[str, ...], seed: int = 0) -> Path:
    """ROOT/<name>/<i>.png: IMAGES random 48px faces per class folder."""
    rng = np.random.default_rng(seed)
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(IMAGES):
            cv2.imwrite(str(root / name / f"{i}.png"), rng.integers(0, 256, (48, 48), np.uint8))
    return root


def _source(name: str, path: Path, *overrides: str) -> tuple[str, ...]:
    """The overrides adding class folders `path` as source `name`."""
    keys = (f"path={path}", "folds=2", "cache=false", *overrides)
    return (f"+data@sources.{name}.data=class_folders", *(f"sources.{name}.data.{key}" for key in keys))


def test_report_on_two_folders_and_a_test_split(tiny_bundled, state_root, tmp_path, data_csv, run_module):
    import mlflow

    mine = _folders(tmp_path / "mine", ("angry", "happy", "sad"))
    posed = _folders(tmp_path / "posed", ("anger", "contempt", "happy"), seed=1)
    rows = [(k, np.full((48, 48), 30 * k, np.uint8), usage) for usage in ("Training", "PublicTest") for k in range(7)]
    csv = data_csv(rows, name="fer2013.csv.gz")
    result = run_module(
        "fer_lab.report",
        "model_uri=bundled",
        "tta=none",
        *_source("mine", mine),
        *_source("posed", posed, "class_map=[anger:angry]"),
        f"data_root={csv.parent}",
        "sources.fer2013_test.data.cache=false",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert f"fer_lab: note: ferplus_test: skipped, no data.votes_path={csv.parent / 'fer2013new.csv'} (" in out
    assert f"fer_lab: note: ckplus: skipped, no data.path={csv.parent / 'ckplus48'} (" in out
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in out.splitlines() if line.startswith("| ")}
    assert set(rows) == {"source", "---", "fer2013_test", "mine", "posed"}
    assert rows["fer2013_test"].startswith("| fer2013_test | test | 7 | 7 | ")
    assert rows["mine"].startswith(f"| mine | all | {3 * IMAGES} | 3 (no disgust, fear, surprise, neutral) | ")
    assert rows["posed"].startswith(f"| posed | all | {2 * IMAGES} of {3 * IMAGES} | 2 (no ")
    assert rows["posed"].count(" - ") == 5  # recall columns: angry and happy only
    assert "- posed: all images of class folders" in out
    assert "not scored: images of classes the model does not have (contempt 12)" in out
    written = state_root / "reports" / "report-bundled.md"
    assert written.read_text() in out

    run_id = out.split("logged as MLflow run ")[1].split()[0]
    run = mlflow.get_run(run_id)
    assert mlflow.get_experiment(run.info.experiment_id).name == "report"
    assert run.data.params["model"] == "bundled" and run.data.params["sources"] == "fer2013_test,mine,posed"
    metrics = run.data.metrics
    assert metrics["mine_images"] == 3 * IMAGES and metrics["posed_images"] == 2 * IMAGES
    assert metrics["posed_accuracy_ci_low"] <= metrics["posed_accuracy"] <= metrics["posed_accuracy_ci_high"]
    assert {"mine_recall_sad", "posed_recall_angry", "fer2013_test_macro_f1"} <= metrics.keys()
    assert "posed_recall_sad" not in metrics
    artifacts = [a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "report")]
    assert artifacts == ["report/report-bundled.md"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("only=[ckplus,nope]",), "only=['ckplus', 'nope']: no source named nope; the sources are fer2013_test,"),
        (("sources.ckplus.data.path=/no/such/folder",), "source ckplus: data.path=/no/such/folder does not exist"),
        (("tta=twice",), "invalid config value tta='twice'"),
        (("only=[]",), "only=[] names no source to score"),
        ((), "no source to score: their files are missing"),
    ],
)
def test_user_errors_are_one_line(tiny_bundled, args, message, run_module):
    result = run_module("fer_lab.report", *args)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("fer_lab: error: ") and message in last


def test_a_folder_sharing_no_class_with_the_model_is_refused(tiny_bundled, tmp_path, run_module):
    other = _folders(tmp_path / "other", ("contempt", "pain"))
    result = run_module("fer_lab.report", "model_uri=bundled", "tta=none", *_source("other", other))
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("fer_lab: error: source other: the model's classes (angry, disgust")
    assert "share 0 class" in last and "sources.other.data.class_map" in last
