"""Content-keyed .npz cache of decoded images."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lab.data import fer_csv, load_images
from fer_lab.data.cache import cache_dir

SIZE = 16


@pytest.fixture
def csv_path(data_csv):
    rng = np.random.default_rng(0)
    return data_csv([(i % 7, rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8), "Training") for i in range(21)])


def test_cache_hit_returns_equal_arrays_without_reparsing(state_root, data_cfg, csv_path, monkeypatch):
    cfg = data_cfg(path=str(csv_path), image_size=SIZE, cache=True)
    first = load_images(cfg)
    files = list(cache_dir().glob("csv-*.npz"))
    assert len(files) == 1 and cache_dir().is_relative_to(state_root)
    monkeypatch.setattr(fer_csv, "read_csv", lambda *a: pytest.fail("cache hit must not re-parse the CSV"))
    second = load_images(cfg)
    for a, b in ((first.x, second.x), (first.y, second.y), (first.usage, second.usage), (first.names, second.names)):
        np.testing.assert_array_equal(a, b)
    assert any(str(files[0]) in n for n in second.notes)


def test_cache_key_follows_content_and_settings(state_root, data_cfg, csv_path):
    load_images(data_cfg(path=str(csv_path), image_size=SIZE, cache=True))
    load_images(data_cfg(path=str(csv_path), image_size=20, cache=True))
    csv_path.write_text(csv_path.read_text().replace("Training", "PublicTest", 1))
    changed = load_images(data_cfg(path=str(csv_path), image_size=SIZE, cache=True))
    assert changed.usage[0] == "PublicTest"
    assert len(list(cache_dir().glob("csv-*.npz"))) == 3
    assert not list(cache_dir().glob("*.tmp"))


def test_cache_off_writes_nothing_and_broken_entry_is_rebuilt(state_root, data_cfg, csv_path):
    load_images(data_cfg(path=str(csv_path), image_size=SIZE))
    assert not cache_dir().exists()
    cfg = data_cfg(path=str(csv_path), image_size=SIZE, cache=True)
    good = load_images(cfg)
    (entry,) = cache_dir().glob("csv-*.npz")
    entry.write_bytes(b"truncated")
    rebuilt = load_images(cfg)
    np.testing.assert_array_equal(good.x, rebuilt.x)
    assert not any("loaded from cache" in n for n in rebuilt.notes)
