"""Content-keyed .npz cache for decoded images, under <project_root>/.cache/data.

A cache entry is a dict of numpy arrays (the loaders' output). Its key hashes the source content
(file bytes, or a folder listing of relative path, size and mtime) plus the loader settings that change
the result, so an edited file or a different setting never returns stale images.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from fer_lab.paths import project_root

FORMAT_VERSION = 2  # bump when the stored arrays change meaning
_BLOCK = 8 << 20


def cache_dir() -> Path:
    """Where cache files live (follows FER_LAB_ROOT)."""
    return project_root() / ".cache" / "data"


def file_digest(*paths: Path) -> str:
    """Hash of the bytes of one or more files."""
    h = hashlib.blake2b(digest_size=20)
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(_BLOCK):
                h.update(block)
    return h.hexdigest()


def listing_digest(entries: Iterable[tuple[str, int, int]]) -> str:
    """Hash of a folder listing: (relative path, size, mtime_ns) per file, in a fixed order."""
    h = hashlib.blake2b(digest_size=20)
    for rel, size, mtime in sorted(entries):
        h.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def cached(
    kind: str,
    digest: Callable[[], str],
    settings: dict,
    build: Callable[[], dict[str, np.ndarray]],
    enabled: bool = True,
) -> tuple[dict[str, np.ndarray], str | None]:
    """Arrays from the cache when present, else build() and store them.

    Returns (arrays, note); note says where a cache hit came from or why storing failed, else None.
    """
    if not enabled:
        return build(), None
    key = json.dumps({"v": FORMAT_VERSION, "kind": kind, "content": digest(), "settings": settings}, sort_keys=True)
    path = cache_dir() / f"{kind}-{hashlib.blake2b(key.encode(), digest_size=12).hexdigest()}.npz"
    arrays = _read(path)
    if arrays is not None:
        return arrays, f"loaded from cache {path}"
    arrays = build()
    try:
        _write(path, arrays)
    except OSError as err:
        return arrays, f"could not write the data cache ({err}); loading will not be cached"
    return arrays, None


def _read(path: Path) -> dict[str, np.ndarray] | None:
    """The stored arrays, or None when absent or unreadable (a broken entry is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return None


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Store atomically: write a temporary file next to the target, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
