"""Absolute project locations, so no state depends on the working directory."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """Where fer_lab keeps its state (mlflow.db, checkpoints, caches): $FER_LAB_ROOT, else the checkout."""
    env = os.environ.get("FER_LAB_ROOT")
    if env:
        return Path(env).resolve()
    return PACKAGE_DIR.parent


CONF_DIR = PACKAGE_DIR.parent / "conf"
"""The Hydra config folder of the checkout."""
