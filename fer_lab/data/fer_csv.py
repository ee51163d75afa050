"""data.source=csv: the FER-2013 challenge CSV `emotion,pixels,Usage`, plain or gzip-compressed.

Pixels are parsed with vectorised byte arithmetic on chunks of rows (no per-value Python work); rows that
fail the fast path are re-read one by one only to say exactly what is wrong with them.
"""

from __future__ import annotations

import gzip
import zlib
from collections import defaultdict
from math import isqrt
from pathlib import Path

import cv2
import numpy as np
from omegaconf import DictConfig

from fer_lab.data import cache
from fer_lab.data.sources import DATA_SOURCES, Fer2013Config, RawImages, raw_images, resolve_path
from fer_lab.errors import FerLabError
from fer_lab.labels import EMOTIONS

USAGES = ("Training", "PublicTest", "PrivateTest")
SHOWN = 10  # offending rows listed per problem
_CHUNK = 256  # rows per vectorised parse; small enough to stay in CPU cache
_LABELS = ", ".join(f"{i} {name}" for i, name in enumerate(EMOTIONS))


@DATA_SOURCES.register("csv", Fer2013Config)
def load_csv(cfg: DictConfig, seed: int) -> RawImages:
    """The challenge CSV at data.path."""
    arrays, description, notes = read_cached(cfg)
    return raw_images(arrays, EMOTIONS, description, notes)


def read_cached(cfg: DictConfig) -> tuple[dict[str, np.ndarray], str, list[str]]:
    """(arrays with per-row names, description, notes) of the CSV at data.path, cached unless data.cache=false."""
    path = resolve_path(cfg.path, "data.path")
    if path.is_dir():
        folder_source = " or use data.source=folder" if cfg.source == "csv" else ""
        raise FerLabError(
            f"data.source={cfg.source} but {path} is a folder; point data.path at the CSV file{folder_source}"
        )
    size = int(cfg.image_size)
    arrays, note = cache.cached(
        "csv", lambda: cache.file_digest(path), {"image_size": size}, lambda: read_csv(path, size), bool(cfg.cache)
    )
    arrays["names"] = np.char.add("data row ", (np.arange(len(arrays["labels"])) + 1).astype(str))
    return arrays, f"FER-2013 challenge CSV {path}", [note] if note else []


def row_list(rows: list[int]) -> str:
    """'data rows 3, 8, 9 (1-based, header not counted)', at most SHOWN numbers."""
    return f"data rows {_numbers(rows)} (1-based, header not counted)"


def _numbers(rows: list[int]) -> str:
    more = f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    return ", ".join(str(r) for r in rows[:SHOWN]) + more


def read_csv(path: Path, image_size: int) -> dict[str, np.ndarray]:
    """Images, labels and usage of a challenge CSV: x (N,S,S,1) uint8, labels (N,) int64, usage (N,) str."""
    header, rows = _lines(path)
    columns = _columns(path, header)
    fields = _fields(path, rows, len(header))
    del rows
    labels = _labels(path, fields[columns["emotion"]])
    notes = []
    if "usage" in columns:
        usage = _usage(path, fields[columns["usage"]])
    else:
        usage = np.full(len(labels), "Training")
        notes.append(f"{path.name} has no Usage column: all {len(labels)} rows are Training")
    pixels = _pixels(path, fields[columns["pixels"]])
    native = isqrt(pixels.shape[1])
    x = pixels.reshape(-1, native, native)
    if native != image_size:
        interp = cv2.INTER_AREA if native > image_size else cv2.INTER_LINEAR
        x = np.stack([cv2.resize(img, (image_size, image_size), interpolation=interp) for img in x])
        notes.append(f"resized all {len(x)} images from {native}x{native} to {image_size}x{image_size}")
    return {"x": x[..., None], "labels": labels, "usage": usage, "notes": np.array(notes, dtype=str)}


def _lines(path: Path) -> tuple[list[str], list[bytes]]:
    """Header names and the non-blank data lines of a plain or gzip file."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise FerLabError(
                f"{path} is not a valid gzip file ({err}); download it again or pass the uncompressed CSV"
            ) from None
    lines = [line for line in data.splitlines() if line and not line.isspace()]
    del data
    if not lines:
        raise FerLabError(
            f"{path} is empty: expected the FER-2013 challenge CSV with the header "
            "`emotion,pixels,Usage`; pass the right file as data.path=..."
        )
    header = [n.strip().strip('"') for n in lines[0].decode("utf-8-sig", "replace").split(",")]
    return header, lines[1:]


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    """Index of each header name (lower case); emotion and pixels are required, Usage optional."""
    columns = {n.lower(): i for i, n in enumerate(header)}
    missing = [c for c in ("emotion", "pixels") if c not in columns]
    if missing:
        found = ", ".join(repr(n[:20]) for n in header)
        raise FerLabError(
            f"{path} lacks the column(s) {', '.join(missing)} (header has {found}): expected "
            "the FER-2013 challenge header `emotion,pixels,Usage` (Usage optional). "
            "Fix the header line or pass the right file as data.path=..."
        )
    return columns


def _fields(path: Path, rows: list[bytes], n: int) -> list[list[bytes]]:
    """Column-wise fields (surrounding quotes removed); rows with another field count are an error."""
    if not rows:
        raise FerLabError(f"{path} has a header but no data rows; pass the full FER-2013 CSV as data.path=...")
    split = [row.split(b",") for row in rows]
    bad = [i + 1 for i, f in enumerate(split) if len(f) != n]
    if bad:
        raise FerLabError(
            f"{path}: {row_list(bad)} do not have {n} comma-separated fields like the header; fix or remove those rows"
        )
    return [[_unquote(f[j]) for f in split] for j in range(n)]


def _unquote(field: bytes) -> bytes:
    return field[1:-1] if field[:1] == b'"' and field[-1:] == b'"' else field


def _labels(path: Path, values: list[bytes]) -> np.ndarray:
    """Integer labels 0..6; anything else is an error listing the rows."""
    labels = np.empty(len(values), np.int64)
    bad: list[int] = []
    for i, v in enumerate(values):
        try:
            labels[i] = int(v)
        except ValueError:
            labels[i] = -1
        if not 0 <= labels[i] < len(EMOTIONS):
            bad.append(i)
    if bad:
        examples = ", ".join(sorted({repr(values[i].decode("utf-8", "replace")[:12]) for i in bad[:SHOWN]}))
        raise FerLabError(
            f"{path}: unknown labels ({examples}) in column emotion at {row_list([i + 1 for i in bad])}: "
            f"expected integers {_LABELS}. Fix or remove those rows"
        )
    return labels


def _usage(path: Path, values: list[bytes]) -> np.ndarray:
    """Usage names; anything but Training/PublicTest/PrivateTest is an error listing the rows."""
    usage = np.array([v.strip().decode("utf-8", "replace") for v in values])
    bad = np.flatnonzero(~np.isin(usage, USAGES))
    if bad.size:
        examples = ", ".join(sorted({repr(u[:16]) for u in usage[bad[:SHOWN]]}))
        raise FerLabError(
            f"{path}: unknown Usage values ({examples}) at {row_list(list(bad + 1))}: "
            f"expected one of {', '.join(USAGES)}. Fix or remove those rows"
        )
    return usage


def _pixels(path: Path, rows: list[bytes]) -> np.ndarray:
    """(N, S*S) uint8 pixels; S*S is the value count most rows have. Bad rows raise one combined error."""
    counts = np.fromiter((r.count(b" ") for r in rows), np.int64, len(rows)) + 1
    n = int(np.bincount(counts).argmax())
    side = isqrt(n)
    if side * side != n or side < 2:
        raise FerLabError(
            f"{path}: most rows have {n} pixel values, which is no square image "
            "(expected S*S values per row, e.g. 2304 = 48x48); pass the FER-2013 CSV"
        )
    out = np.empty((len(rows), n), np.uint8)
    problems: dict[str, list[int]] = defaultdict(list)
    scanned = 0
    while scanned < len(rows) and sum(map(len, problems.values())) < SHOWN:
        chunk = rows[scanned : scanned + _CHUNK]
        values = _fast_chunk(chunk, n) if (counts[scanned : scanned + _CHUNK] == n).all() else None
        if values is None:
            values = _slow_chunk(chunk, n, scanned, problems)
        out[scanned : scanned + len(chunk)] = values
        scanned += len(chunk)
    if problems:
        found = "; ".join(f"{kind} at rows {_numbers(rows_)}" for kind, rows_ in problems.items())
        stopped = f"; checking stopped after data row {scanned}" if scanned < len(rows) else ""
        raise FerLabError(
            f"{path}: bad pixels in data rows (1-based, header not counted): {found}{stopped}. "
            f"Each row needs exactly {n} = {side}x{side} space-separated integers 0..255; "
            "fix or remove those rows"
        )
    return out


def _fast_chunk(chunk: list[bytes], n: int) -> np.ndarray | None:
    """Parse rows of exactly n single-space-separated 1-3 digit values; None when anything is unusual."""
    b = np.frombuffer(b" ".join(chunk) + b" ", np.uint8)
    d = b - np.uint8(48)
    digit = d < 10
    if np.count_nonzero(digit) + len(chunk) * n != b.size:  # something besides digits and single spaces
        return None
    ends = digit[:-1] & ~digit[1:]
    if np.count_nonzero(ends) != len(chunk) * n or (digit[3:] & digit[2:-1] & digit[1:-2] & digit[:-3]).any():
        return None
    z = np.where(digit, d, np.uint8(0)).astype(np.uint16)
    value = z.copy()
    value[1:] += z[:-1] * np.uint16(10)
    value[2:] += z[:-2] * np.uint16(100) * digit[1:-1]
    values = value[:-1][ends]
    if values.max(initial=0) > 255:
        return None
    return values.astype(np.uint8).reshape(len(chunk), n)


def _slow_chunk(chunk: list[bytes], n: int, start: int, problems: dict[str, list[int]]) -> np.ndarray:
    """Row-by-row parse that accepts odd whitespace and records what is wrong with bad rows."""
    out = np.zeros((len(chunk), n), np.uint8)
    for i, row in enumerate(chunk):
        tokens = row.split()
        number = start + i + 1
        if len(tokens) != n:
            problems["wrong number of values"].append(number)
        elif not b"".join(tokens).isdigit():
            if b"".join(t.lstrip(b"-") for t in tokens).isdigit():
                problems["values outside 0..255"].append(number)
            else:
                problems["non-numeric values"].append(number)
        else:
            values = np.array([int(t) for t in tokens])
            if values.max() > 255:
                problems["values outside 0..255"].append(number)
            else:
                out[i] = values
    return out
