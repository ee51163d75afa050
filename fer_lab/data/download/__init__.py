"""Getting FER-2013: `make data` (`python -m fer_lab.data.download`) downloads the Kaggle dataset msambare/fer2013
(train/<emotion>/*.jpg, test/<emotion>/*.jpg) with the Kaggle API into <project root>/data/fer2013, the default
data.path. Without the kaggle package or Kaggle credentials it prints how to get the data and fails."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
from collections import Counter
from pathlib import Path

from fer_lab.errors import FerLabError, report_user_errors
from fer_lab.paths import project_root

KAGGLE_DATASET = "msambare/fer2013"
CHALLENGE = "challenges-in-representation-learning-facial-expression-recognition-challenge"
FERPLUS = "https://github.com/microsoft/FERPlus"

GET_FER2013 = (
    "get FER-2013 with `make data` (it downloads the Kaggle folders into <project root>/data/fer2013, "
    "or says how to), or pass the challenge CSV: `data.path=/abs/path/fer2013.csv`"
)
GET_FERPLUS = f"the FER+ votes file fer2013new.csv is in {FERPLUS}; pass it as `data.votes_path=/abs/path/...`"


def default_target() -> Path:
    """Where conf/data/fer2013.yaml looks for the folders."""
    return project_root() / "data" / "fer2013"


def steps(target: Path) -> str:
    """How to get the data: the Kaggle download, and the CSV and FER+ alternatives."""
    return f"""To download FER-2013 (Kaggle dataset {KAGGLE_DATASET}) into {target}:
  1. Install the Kaggle client:  .venv/bin/pip install kaggle
  2. Kaggle API credentials: on kaggle.com open Settings > API > Create New Token and save the downloaded
     kaggle.json as ~/.kaggle/kaggle.json (chmod 600), or export KAGGLE_USERNAME=... KAGGLE_KEY=...
  3. make data
     (or by hand: kaggle datasets download {KAGGLE_DATASET} --unzip -p {target})
Alternatives:
  - the challenge CSV (emotion,pixels,Usage; also has PrivateTest): accept the rules of the Kaggle competition
    {CHALLENGE}, then
      kaggle competitions download -c {CHALLENGE}
    unzip it, take fer2013.csv out of fer2013.tar.gz and train with data.path=/abs/path/fer2013.csv
  - FER+ crowd labels for that CSV: fer2013new.csv from {FERPLUS}, then
      data=ferplus data.path=/abs/path/fer2013.csv data.votes_path=/abs/path/fer2013new.csv"""


def has_credentials() -> bool:
    """Whether the Kaggle client will find credentials: KAGGLE_USERNAME and KAGGLE_KEY, KAGGLE_API_TOKEN, or
    kaggle.json / access_token in $KAGGLE_CONFIG_DIR, ~/.kaggle or ~/.config/kaggle."""
    if (os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")) or os.environ.get("KAGGLE_API_TOKEN"):
        return True
    home = Path.home()
    folders = [Path(os.environ["KAGGLE_CONFIG_DIR"])] if os.environ.get("KAGGLE_CONFIG_DIR") else []
    folders += [home / ".kaggle", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]
    return any((folder / name).is_file() for folder in folders for name in ("kaggle.json", "access_token"))


def kaggle_installed() -> bool:
    return importlib.util.find_spec("kaggle") is not None


def kaggle_api():
    """An authenticated Kaggle API client (importing the kaggle package reads the credentials)."""
    from kaggle.api.kaggle_api_extended import KaggleApi

    api = KaggleApi()
    api.authenticate()
    return api


def download(target: Path) -> Path:
    """FER-2013's Kaggle folders in `target` (nothing to do when target/train exists)."""
    target = target.expanduser().resolve()
    if (target / "train").is_dir():
        print(f"fer_lab: FER-2013 is already in {target}; nothing to download")
        return target
    if target.is_file() or target.name.lower().endswith((".csv", ".gz")):
        raise FerLabError(
            f"{target} is not a folder: the Kaggle download is the folder layout "
            "train/<emotion>/*.jpg, test/<emotion>/*.jpg; pass a folder (DATA=/abs/path/fer2013)"
        )
    if target.is_dir() and any(target.iterdir()):
        raise FerLabError(
            f"{target} exists but holds no train/ folder: move it away, or download into another "
            "folder (DATA=/abs/path/fer2013) and pass that as data.path"
        )
    missing = [
        what
        for what, ok in (("the kaggle package", kaggle_installed()), ("Kaggle API credentials", has_credentials()))
        if not ok
    ]
    if missing:
        print(steps(target), flush=True)
        raise FerLabError(f"cannot download FER-2013: {' and '.join(missing)} not found; follow the steps above")
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    print(f"fer_lab: downloading the Kaggle dataset {KAGGLE_DATASET} into {target} ...", flush=True)
    try:
        kaggle_api().dataset_download_files(KAGGLE_DATASET, path=str(partial), unzip=True, quiet=False)
    except (Exception, SystemExit) as err:  # the client raises (or exits on) errors of its own kinds
        shutil.rmtree(partial, ignore_errors=True)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FerLabError(
            f"the Kaggle download of {KAGGLE_DATASET} failed ({reason}): check the credentials "
            f"and the network and rerun `make data`, or get the data by hand; {GET_FER2013}"
        ) from None
    return _install(partial, target)


def _install(partial: Path, target: Path) -> Path:
    """Move the unpacked folders (partial/ or its one subfolder holding train/) to target, after checking them."""
    from fer_lab.data import fer_csv, folders

    root = next((p for p in (partial, *sorted(partial.iterdir())) if (p / "train").is_dir()), None)
    if root is None:
        found = ", ".join(sorted(p.name for p in partial.iterdir())) or "nothing"
        shutil.rmtree(partial, ignore_errors=True)
        raise FerLabError(
            f"the Kaggle download of {KAGGLE_DATASET} holds no train/ folder (found: {found}); "
            f"get the data by hand; {GET_FER2013}"
        )
    try:
        entries, _ = folders.scan(root)
    except FerLabError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if target.is_dir():
        target.rmdir()  # empty (checked before the download)
    target.parent.mkdir(parents=True, exist_ok=True)
    root.rename(target)
    shutil.rmtree(partial, ignore_errors=True)
    counts = Counter(usage for _, usage, _ in entries)
    found = ", ".join(f"{counts[usage]} {usage}" for usage in fer_csv.USAGES if counts[usage])
    use = "the default data.path" if target == default_target() else f"use it with data.path={target}"
    print(f"fer_lab: FER-2013 is in {target} ({found} images); {use}")
    return target


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    """Command line: download into --dest (default: the default data.path of conf/data/fer2013.yaml)."""
    parser = argparse.ArgumentParser(
        prog="python -m fer_lab.data.download", description=f"Download FER-2013 (Kaggle {KAGGLE_DATASET}) for training."
    )
    parser.add_argument(
        "--dest", type=Path, default=None, help="folder to download into (default: <project root>/data/fer2013)"
    )
    download(parser.parse_args(argv).dest or default_target())
