"""The results tables of README.md and docs/results.md are generated from experiments/results.yaml
(experiments/readme_table.py): measured rows in one table, recipes not measured yet with what they need in another."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from fer_lab.paths import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("readme_table", ROOT / "experiments" / "readme_table.py")
readme_table = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(readme_table)


def results() -> dict:
    return yaml.safe_load(readme_table.RESULTS.read_text())


@pytest.mark.parametrize("page", readme_table.PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_tables_match_results_yaml(page):
    text = page.read_text()
    assert readme_table.with_table(text, results()) == text, (
        f"{page.name}'s results tables are out of date: run `{readme_table.COMMAND}`"
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
            assert set(metrics) <= {
                "accuracy",
                "macro_f1",
                "recall_disgust",
                "recall_fear",
                "accuracy_ci",
                "macro_f1_ci",
            }
            for key in ("accuracy", "macro_f1"):  # an interval holds its value
                if f"{key}_ci" in metrics:
                    low, high = metrics[f"{key}_ci"]
                    assert low <= metrics[key] <= high
        if entry.get("metrics"):
            assert {"commit", "data", "hardware", "mlflow_run", "train_time"} <= set(entry)


def test_every_recipe_is_measured_or_says_what_it_needs():
    for entry in results()["recipes"]:
        assert entry.get("metrics") or entry.get("needs"), (
            f"{entry['recipe']}: add its `metrics`, or `needs` (what running it takes), to experiments/results.yaml"
        )


def test_unmeasured_recipes_are_listed_with_their_needs_not_as_empty_rows():
    text = readme_table.table(results())
    measured_part, _, needs_part = text.partition(readme_table.NEEDS_INTRO)
    assert "not measured yet |" not in measured_part
    for entry in results()["recipes"]:
        name = f"| `{entry['recipe']}` |"
        if entry.get("metrics"):
            assert f"`{entry['recipe']}`" in measured_part
            assert name not in needs_part
        else:
            assert f"{name} {entry['needs']} |" in needs_part
            assert not any(line.startswith(name) for line in measured_part.splitlines())


def test_a_row_needs_metrics_and_an_unmeasured_recipe_needs_needs():
    with pytest.raises(ValueError, match="no metrics"):
        readme_table.row({"recipe": "cnn_best", "command": "..."})
    with pytest.raises(ValueError, match="neither metrics nor needs"):
        readme_table.table({"recipes": [{"recipe": "cnn_best", "command": "..."}]})
    row = readme_table.needs_row({"recipe": "cnn_best", "command": "python -m fer_lab.train", "needs": "a GPU"})
    assert row == "| `cnn_best` | a GPU | `python -m fer_lab.train` |"
