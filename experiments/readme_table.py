"""Write the results tables from experiments/results.yaml into README.md and docs/results.md, between their markers.

python experiments/readme_table.py           # rewrite the tables in README.md and docs/results.md
python experiments/readme_table.py --check   # exit 1 if a page's tables differ from results.yaml

The first table has one row per measured entry (an entry with `metrics`); the second lists the recipes not
measured yet with what they need to run (their `needs`). Every entry has one or the other.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results.yaml"
README = ROOT / "README.md"
PAGES = (README, ROOT / "docs" / "results.md")  # every page that shows the tables
START, END = "<!-- results-table:start -->", "<!-- results-table:end -->"
COMMAND = "python experiments/readme_table.py"

HEADER = (
    "| recipe | val acc. | test acc. | test macro-F1 | test disgust recall | test fear recall | "
    "test_unseen acc. | TTA | params | train time | hardware |"
)
NEEDS_INTRO = "Recipes not measured yet, and what they need to run:"
NEEDS_HEADER = "| recipe | needs | command |"


def _metric(metrics: dict, split: str, key: str) -> str:
    """The value, with its 95% interval when the entry has one (`<key>_ci: [low, high]`)."""
    value, interval = metrics.get(split, {}).get(key), metrics.get(split, {}).get(f"{key}_ci")
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def measured(entry: dict) -> bool:
    """Whether the entry has numbers (`metrics`)."""
    return bool(entry.get("metrics"))


def row(entry: dict) -> str:
    """One row of the measured table: the entry's main metrics."""
    if not measured(entry):
        raise ValueError(f"{entry['recipe']} has no metrics: it belongs in the table of recipes not measured yet")
    name = f"`{entry['recipe']}`" + (f" `{entry['variant']}`" if entry.get("variant") else "")
    name += f" ({entry['note']})" if entry.get("note") else ""
    metrics = entry["metrics"]
    cells = [
        name,
        _metric(metrics, "val", "accuracy"),
        _metric(metrics, "test", "accuracy"),
        *(_metric(metrics, "test", key) for key in ("macro_f1", "recall_disgust", "recall_fear")),
        _metric(metrics, "test_unseen", "accuracy"),
        entry.get("tta", "-"),
        entry.get("params", "-"),
        entry.get("train_time", "-"),
        entry.get("hardware", "-"),
    ]
    return "| " + " | ".join(cells) + " |"


def needs_row(entry: dict) -> str:
    """One row of the table of recipes not measured yet: what the recipe needs, and its command."""
    if not entry.get("needs"):
        raise ValueError(f"{entry['recipe']} has neither metrics nor needs: add one of them to results.yaml")
    return f"| `{entry['recipe']}` | {entry['needs']} | `{entry['command']}` |"


def table(results: dict) -> str:
    """The measured table, then the table of recipes not measured yet, for the parsed results.yaml."""
    entries = results["recipes"]
    lines = [HEADER, "|---|" + "---:|" * 6 + "---|" * 4, *(row(e) for e in entries if measured(e))]
    waiting = [needs_row(e) for e in entries if not measured(e)]
    if waiting:
        lines += ["", NEEDS_INTRO, "", NEEDS_HEADER, "|---|---|---|", *waiting]
    return "\n".join(lines)


def with_table(page: str, results: dict, name: str = "README.md") -> str:
    """`page` with the text between its markers replaced by the tables."""
    if START not in page or END not in page:
        sys.exit(f"{name} lacks the markers {START} and {END} around the results tables")
    head, rest = page.split(START, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{START}\n{table(results)}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the pages are up to date")
    args = parser.parse_args()
    results = yaml.safe_load(RESULTS.read_text())
    stale = []
    for path in PAGES:
        page = path.read_text()
        expected = with_table(page, results, path.relative_to(ROOT).as_posix())
        if expected == page:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.write_text(expected)
    if stale:
        sys.exit(f"the results tables of {', '.join(stale)} differ from experiments/results.yaml: run `{COMMAND}`")


if __name__ == "__main__":
    main()
