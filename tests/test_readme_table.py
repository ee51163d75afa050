"""README.md's results table is generated from experiments/results.yaml (experiments/readme_table.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from fer_lab.paths import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("readme_table", ROOT / "experiments" / "readme_table.py")
readme_table = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(readme_table)


def results() -> dict:
    return yaml.safe_load(readme_table.RESULTS.read_text())


def test_readme_table_matches_results_yaml():
    readme = readme_table.README.read_text()
    assert readme_table.with_table(readme, results()) == readme, (
        f"README.md's results table is out of date: run `{readme_table.COMMAND}`"
    )


def test_results_cover_every_recipe_with_named_splits():
    entries = results()["recipes"]
    recipes = {p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")} - {"results", "transfer_base"}
    assert {entry["recipe"] for entry in entries} == recipes
    splits = set(results()["splits"])
    for entry in entries:
        assert f"+experiment={entry['recipe']}" in entry["command"]
        for split, metrics in entry.get("metrics", {}).items():
            assert split in splits
            assert set(metrics) <= {"accuracy", "macro_f1", "recall_disgust", "recall_fear"}
        if entry.get("metrics"):
            assert {"commit", "data", "hardware", "mlflow_run", "train_time"} <= set(entry)


def test_unmeasured_recipe_gets_a_row_without_numbers():
    assert "not measured yet" in readme_table.row({"recipe": "cnn_best", "command": "..."})
