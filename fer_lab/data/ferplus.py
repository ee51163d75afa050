"""data.source=ferplus: FER+ crowd votes (fer2013new.csv), aligned row by row with the FER-2013 CSV, as labels.

Vote columns are remapped to FER-2013 label order (anger 0 ... neutral 6, contempt 7). As in Microsoft's
FERPlus code, single votes are treated as noise and zeroed first. Then
- majority: the top emotion is the label if it holds more than half of the remaining votes; rows whose
  top vote is unknown / not-a-face (NF) / contempt (when excluded), or without a majority, are dropped;
- soft: the normalised vote distribution over the kept emotions; rows where the kept emotions hold at
  most half of the remaining votes (unknown, NF or excluded contempt dominate) are dropped.
"""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from fer_lab.data import fer_csv
from fer_lab.data.download import GET_FERPLUS
from fer_lab.data.fer_csv import SHOWN, row_list
from fer_lab.data.sources import DATA_SOURCES, FilesConfig, RawImages, raw_images, resolve_path
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS, class_names

COLUMNS = (
    "Usage",
    "Image name",
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)
TO_FER = {
    "anger": 0,
    "disgust": 1,
    "fear": 2,
    "happiness": 3,
    "sadness": 4,
    "surprise": 5,
    "neutral": 6,
    "contempt": 7,
    "unknown": 8,
    "NF": 9,
}


class LabelMode(enum.StrEnum):
    """data.label_mode: how votes become labels (see the module docstring)."""

    majority = "majority"
    soft = "soft"


@dataclass
class FerPlusConfig(FilesConfig):
    """The FER-2013 challenge CSV (path) with FER+ votes (votes_path) as labels."""

    path: str | None = "${fer_lab_root:}/data/fer2013.csv"
    votes_path: str | None = "${fer_lab_root:}/data/fer2013new.csv"
    label_mode: LabelMode = LabelMode.majority
    include_contempt: bool = False  # true: contempt is an 8th class; false: contempt-majority rows are dropped


@DATA_SOURCES.register("ferplus", FerPlusConfig)
def load_ferplus(cfg: DictConfig, seed: int) -> RawImages:
    """The CSV's images, with the rows and labels the votes keep."""
    arrays, description, notes = fer_csv.read_cached(cfg)
    votes_path = resolve_path(cfg.votes_path, "data.votes_path", GET_FERPLUS)
    keep, y, vote_notes = apply_votes(
        votes_path, arrays["usage"], arrays["labels"], str(cfg.label_mode), bool(cfg.include_contempt)
    )
    arrays = {name: values if name == "notes" else values[keep] for name, values in arrays.items()}
    return raw_images(
        arrays,
        class_names(bool(cfg.include_contempt)),
        f"FER+ {cfg.label_mode} votes {votes_path} on {description}",
        notes + vote_notes,
        y,
    )


def read_votes(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(usage (N,), image names (N,), votes (N,10) float32 in TO_FER column order)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    if not rows:
        raise FerLabError(
            f"{path} is empty: expected the FER+ votes file fer2013new.csv with the header "
            f"{','.join(COLUMNS)}; pass it as data.votes_path=..."
        )
    header = [h.strip() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise FerLabError(
            f"{path} lacks the column(s) {', '.join(missing)}: expected the FER+ header "
            f"{','.join(COLUMNS)}; pass fer2013new.csv as data.votes_path=..."
        )
    index = [header.index(c) for c in COLUMNS]
    body = rows[1:]
    bad = [i + 1 for i, r in enumerate(body) if len(r) != len(header)]
    if bad:
        raise FerLabError(
            f"{path}: {row_list(bad)} do not have {len(header)} fields like the header; fix or remove those rows"
        )
    table = np.array([[r[j].strip() for j in index] for r in body], dtype=str).reshape(-1, len(COLUMNS))
    try:
        raw = table[:, 2:].astype(np.float32)
    except ValueError:
        raw = None
    if raw is None or not np.isfinite(raw).all() or (raw < 0).any():
        bad = [i + 1 for i, r in enumerate(table[:, 2:]) if not all(_count(v) for v in r)]
        raise FerLabError(
            f"{path}: vote counts that are not non-negative numbers at {row_list(bad)}; fix or remove those rows"
        )
    votes = np.zeros_like(raw)
    votes[:, [TO_FER[c] for c in COLUMNS[2:]]] = raw
    return table[:, 0], table[:, 1], votes


def _count(value: str) -> bool:
    try:
        return float(value) >= 0
    except ValueError:
        return False


def labels_from_votes(votes: np.ndarray, mode: str, include_contempt: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    """(kept row mask, label distributions (kept, K) float32, dropped counts by reason) for TO_FER votes."""
    k = len(EMOTIONS) + int(include_contempt)
    v = np.where(votes > 1, votes, 0).astype(np.float32)  # single votes are noise
    total = v.sum(axis=1)
    if mode == "majority":
        top = v.argmax(axis=1)
        majority = v.max(axis=1) > 0.5 * total
        keep = majority & (top < k)
        dropped = {
            "no majority": int((~majority).sum()),
            "unknown / not a face": int((majority & (top >= 8)).sum()),
            "contempt (include_contempt=false)": int((majority & (top == 7) & (k == 7)).sum()),
        }
        y = np.eye(k, dtype=np.float32)[top[keep]]
    else:
        kept = v[:, :k].sum(axis=1)
        keep = (kept > 0) & (kept > 0.5 * total)
        dropped = {
            "no emotion votes": int((kept == 0).sum()),
            "dominated by unknown / not-a-face / excluded votes": int(((kept > 0) & ~keep).sum()),
        }
        y = v[keep, :k] / kept[keep, None]
    return keep, y, {reason: n for reason, n in dropped.items() if n}


def apply_votes(
    votes_path: Path, usage: np.ndarray, labels: np.ndarray, mode: str, include_contempt: bool
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(kept CSV row mask, label distributions, notes) for the CSV rows (usage, original labels)."""
    vote_usage, names, votes = read_votes(votes_path)
    if len(vote_usage) != len(usage):
        raise FerLabError(
            f"the FER+ votes file {votes_path} has {len(vote_usage)} data rows but the FER-2013 CSV "
            f"has {len(usage)}: the votes must be aligned row by row with the CSV. Pass the "
            "matching pair as data.path=... data.votes_path=..."
        )
    mismatch = np.flatnonzero(vote_usage != usage)
    if mismatch.size:
        raise FerLabError(
            f"the Usage of {votes_path} differs from the FER-2013 CSV at "
            f"{row_list(list(mismatch[:SHOWN] + 1))}: the files are not aligned row by row. "
            "Pass the matching pair as data.path=... data.votes_path=..."
        )
    keep, y, dropped = labels_from_votes(votes, mode, include_contempt)
    named = np.char.str_len(names) > 0
    y = y[named[keep]]
    if n := int((~named & keep).sum()):
        dropped["empty image name"] = n
    keep &= named
    notes = [
        f"FER+ {mode} labels: kept {int(keep.sum())} of {len(keep)} rows"
        + (f"; dropped {', '.join(f'{n} {reason}' for reason, n in dropped.items())}" if dropped else "")
    ]
    agree = float(np.mean(y.argmax(axis=1) == labels[keep])) if keep.any() else 0.0
    notes.append(f"FER+ {mode} labels agree with the original FER-2013 labels on {agree:.1%} of kept rows")
    return keep, y, notes
