"""data.source=auto: the folder loader for a folder, the CSV loader for a *.csv or *.csv.gz file."""

from __future__ import annotations

from omegaconf import DictConfig

from fer_lab.data.sources import DATA_SOURCES, Fer2013Config, RawImages, resolve_path
from fer_lab.errors import FerLabError


@DATA_SOURCES.register("auto", Fer2013Config)
def load_auto(cfg: DictConfig, seed: int) -> RawImages:
    """Whatever data.path holds: the Kaggle folders or the challenge CSV."""
    path = resolve_path(cfg.path, "data.path")
    if path.is_dir():
        return DATA_SOURCES["folder"](cfg, seed)
    if path.name.lower().endswith((".csv", ".csv.gz")):
        return DATA_SOURCES["csv"](cfg, seed)
    raise FerLabError(
        f"cannot tell the format of {path} (expected a folder or a .csv/.csv.gz file); "
        "set data.source=csv or data.source=folder"
    )
