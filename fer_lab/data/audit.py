"""Dataset audit: class balance per split, exact duplicates within and across splits (and their label
conflicts), near-blank images, and what drop_cross_split_duplicates would remove. Works on RawImages,
before any split, so it sees every row."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from omegaconf import DictConfig

from fer_lab.config import resolved_copy
from fer_lab.data.fer_csv import USAGES
from fer_lab.data.sources import RawImages
from fer_lab.data.splits import image_ids, plan_splits

_STATS_CHUNK = 4096
_GROUP_SHOWN = 4  # members named per duplicate-group example


def audit_images(
    raw: RawImages, cfg: DictConfig, seed: int, blank_std: float = 3.0, blank_range: int = 20, show: int = 10
) -> dict:
    """A JSON-ready report; `show` bounds the examples listed per finding."""
    ids = image_ids(raw.x)[0]
    labels = raw.labels
    names = raw.names if raw.names is not None else np.array([f"image #{i + 1}" for i in range(len(ids))])
    usages = [u for u in USAGES if (raw.usage == u).any()]

    def shown(usage: str) -> str:
        return raw.usage_names.get(usage, usage)

    def describe(i: int) -> str:
        return f"{names[i]} ({shown(raw.usage[i])}, {raw.class_names[labels[i]]})"

    def duplicates(rows: np.ndarray, group_ids: np.ndarray) -> dict:
        """Label conflicts and examples (conflicting groups first) of the given duplicate groups."""
        rows = rows[np.isin(ids[rows], group_ids)]
        conflicting = _conflicting(ids[rows], labels[rows])
        listed = [*conflicting[:show], *group_ids[~np.isin(group_ids, conflicting)][:show]][:show]
        return {
            "conflicting_groups": int(conflicting.size),
            "examples": [_group(rows[ids[rows] == g], describe) for g in listed],
        }

    within = {}
    for u in usages:
        rows = np.flatnonzero(raw.usage == u)
        uniq, counts = np.unique(ids[rows], return_counts=True)
        dup = counts > 1
        within[shown(u)] = {
            "groups": int(dup.sum()),
            "images": int(counts[dup].sum()),
            "redundant": int(counts[dup].sum() - dup.sum()),
            **duplicates(rows, uniq[dup]),
        }
    across = []
    for a, b in combinations(usages, 2):
        rows_a, rows_b = np.flatnonzero(raw.usage == a), np.flatnonzero(raw.usage == b)
        shared = np.intersect1d(ids[rows_a], ids[rows_b])
        across.append(
            {
                "splits": [shown(a), shown(b)],
                "shared_images": int(shared.size),
                "second_with_copy_in_first": int(np.isin(ids[rows_b], shared).sum()),
                **duplicates(np.concatenate([rows_a, rows_b]), shared),
            }
        )
    std, span = _pixel_stats(raw.x)
    blank = np.flatnonzero((std < blank_std) | (span < blank_range))
    drop_cfg = resolved_copy(cfg)
    drop_cfg.drop_cross_split_duplicates = True
    plan = plan_splits(raw.x, labels, raw.usage, drop_cfg, seed, raw.usage_names)
    return {
        "source": raw.source,
        "images": len(raw.x),
        "image_size": int(raw.x.shape[1]),
        "class_names": list(raw.class_names),
        "class_counts": {
            shown(u): dict(
                zip(
                    raw.class_names,
                    np.bincount(labels[raw.usage == u], minlength=len(raw.class_names)).tolist(),
                    strict=True,
                )
            )
            for u in usages
        },
        "duplicates_within": within,
        "duplicates_across": across,
        "near_blank": {
            "blank_std": blank_std,
            "blank_range": blank_range,
            "count": int(blank.size),
            "examples": [f"{describe(i)}: std {std[i]:.1f}, range {span[i]}" for i in blank[:show]],
        },
        "drop_cross_split_duplicates": {
            "would_remove": plan.dropped_duplicates,
            "held_out": {k: v for k, v in plan.origins.items() if k != "train"},
        },
        "notes": list(raw.notes),
    }


def _group(rows: np.ndarray, describe) -> str:
    """'a = b = c' for one duplicate group, at most _GROUP_SHOWN members named."""
    text = " = ".join(describe(i) for i in rows[:_GROUP_SHOWN])
    return text + (f" = ... ({rows.size} copies)" if rows.size > _GROUP_SHOWN else "")


def _conflicting(ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Ids whose rows carry more than one distinct label."""
    pairs = np.unique(np.stack([ids, labels]), axis=1)
    uniq, n_labels = np.unique(pairs[0], return_counts=True)
    return uniq[n_labels > 1]


def _pixel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image pixel standard deviation and robust dynamic range (99th - 1st percentile), in chunks.

    Percentiles come from per-image 256-bin histograms (one bincount per chunk), exact for uint8.
    """
    flat = x.reshape(len(x), -1)
    std, span = [], []
    for start in range(0, len(flat), _STATS_CHUNK):
        chunk = flat[start : start + _STATS_CHUNK]
        n, p = chunk.shape
        offsets = np.arange(n, dtype=np.int64)[:, None] * 256
        cum = np.bincount((offsets + chunk).ravel(), minlength=n * 256).reshape(n, 256).cumsum(axis=1)
        span.append((cum >= 0.99 * p).argmax(axis=1) - (cum >= 0.01 * p).argmax(axis=1))
        std.append(chunk.std(axis=1, dtype=np.float32))
    return np.concatenate(std), np.concatenate(span)


def format_report(report: dict) -> str:
    """The report as plain-text tables."""
    usages = list(report["class_counts"])
    lines = [
        f"Data audit: {report['source']}",
        f"{report['images']} images, {report['image_size']}x{report['image_size']}, "
        f"{len(report['class_names'])} classes",
        "",
        "Class counts",
    ]
    rows = [[c] + [report["class_counts"][u][c] for u in usages] for c in report["class_names"]]
    rows = [[*r, sum(r[1:])] for r in rows]
    rows.append(["total"] + [sum(r[i] for r in rows) for i in range(1, len(usages) + 2)])
    lines += _table(["class", *usages, "total"], rows, percent_of=rows[-1])
    lines += ["", "Exact duplicates within a split (groups of identical images)"]
    lines += _table(
        ["split", "groups", "images", "redundant", "conflicting labels"],
        [
            [u, g["groups"], g["images"], g["redundant"], g["conflicting_groups"]]
            for u, g in report["duplicates_within"].items()
        ],
    )
    for u, g in report["duplicates_within"].items():
        lines += [f"  {u}: {e}" for e in g["examples"]]
    if report["duplicates_across"]:
        lines += ["", "Exact duplicates across splits"]
        lines += _table(
            ["splits", "shared images", "2nd split rows with a copy", "conflicting labels"],
            [
                [" / ".join(a["splits"]), a["shared_images"], a["second_with_copy_in_first"], a["conflicting_groups"]]
                for a in report["duplicates_across"]
            ],
        )
        for a in report["duplicates_across"]:
            lines += [f"  {' / '.join(a['splits'])}: {e}" for e in a["examples"]]
    blank = report["near_blank"]
    lines += [
        "",
        f"Near-blank images (pixel std < {blank['blank_std']:g} or 1st-99th percentile range "
        f"< {blank['blank_range']}): {blank['count']}",
    ]
    lines += [f"  {e}" for e in blank["examples"]]
    if blank["count"] > len(blank["examples"]):
        lines.append(f"  ... and {blank['count'] - len(blank['examples'])} more")
    drop = report["drop_cross_split_duplicates"]
    held_out = ", ".join(f"{k}: {v}" for k, v in drop["held_out"].items())
    lines += [
        "",
        f"drop_cross_split_duplicates=true would remove {drop['would_remove']['train']} train images "
        f"(copies of val/test images) and {drop['would_remove']['val']} validation images (copies of "
        f"test images); {held_out}",
    ]
    if report["notes"]:
        lines += ["", "Loading notes"] + [f"  {n}" for n in report["notes"]]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list], percent_of: list | None = None) -> list[str]:
    """Left-aligned first column, right-aligned numbers; with percent_of, each number also shows its share
    of that row's value in the same column (the totals row itself is printed plain)."""

    def cell(row: list, j: int) -> str:
        value = row[j]
        if percent_of is None or j == 0 or row is percent_of:
            return str(value)
        return f"{value} ({100 * value / max(percent_of[j], 1):.1f}%)"

    cells = [[str(h) for h in header]] + [[cell(r, j) for j in range(len(r))] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    return [
        "  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    ]
