"""Write README.md's results table from experiments/results.yaml (one row per entry), between its marker comments.

python experiments/readme_table.py           # rewrite the table in README.md
python experiments/readme_table.py --check   # exit 1 if README.md's table differs from results.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results.yaml"
README = ROOT / "README.md"
START, END = "<!-- results-table:start -->", "<!-- results-table:end -->"
COMMAND = "python experiments/readme_table.py"

HEADER = (
    "| recipe | val acc. | test acc. | test macro-F1 | test disgust recall | test fear recall | "
    "test_unseen acc. | TTA | params | train time | hardware |"
)


def _metric(metrics: dict, split: str, key: str) -> str:
    value = metrics.get(split, {}).get(key)
    return "-" if value is None else f"{value:.3f}"


def row(entry: dict) -> str:
    """One table row: the entry's main metrics, or 'not measured yet' when it has none."""
    name = f"`{entry['recipe']}`" + (f" `{entry['variant']}`" if entry.get("variant") else "")
    name += f" ({entry['note']})" if entry.get("note") else ""
    metrics = entry.get("metrics")
    if not metrics:
        return f"| {name} | not measured yet | | | | | | | | | |"
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


def table(results: dict) -> str:
    """The markdown table, header included, for the parsed results.yaml."""
    return "\n".join([HEADER, "|---|" + "---:|" * 6 + "---|" * 4, *map(row, results["recipes"])])


def with_table(readme: str, results: dict) -> str:
    """`readme` with the text between its markers replaced by the table."""
    if START not in readme or END not in readme:
        sys.exit(f"README.md lacks the markers {START} and {END} around the results table")
    head, rest = readme.split(START, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{START}\n{table(results)}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    args = parser.parse_args()
    readme = README.read_text()
    expected = with_table(readme, yaml.safe_load(RESULTS.read_text()))
    if args.check:
        if expected != readme:
            sys.exit(f"README.md's results table differs from experiments/results.yaml: run `{COMMAND}`")
        return
    README.write_text(expected)


if __name__ == "__main__":
    main()
