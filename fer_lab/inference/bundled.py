"""The reference model shipped inside the package, so inference works before any training.

fer_lab/assets/reference/ holds model.keras, model.json (the metadata inference needs and the numbers of
its model card) and MODEL_CARD.md. The model URI `bundled` names it wherever a model URI is taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fer_lab.errors import FerLabError
from fer_lab.paths import PACKAGE_DIR
from fer_lab.tracking.model_io import ModelMetadata

BUNDLED_URI = "bundled"
BUNDLED_DIR = PACKAGE_DIR / "assets" / "reference"
MODEL_FILE, INFO_FILE, CARD_FILE = "model.keras", "model.json", "MODEL_CARD.md"


@dataclass(frozen=True)
class BundledModel:
    """Where the bundled model lies, what inference needs to run it, and what its card says."""

    folder: Path
    metadata: ModelMetadata
    card: dict

    @property
    def model_file(self) -> Path:
        return self.folder / MODEL_FILE


def bundled_model(folder: Path | None = None) -> BundledModel:
    """The bundled model's files and card; a clear error when the package ships none."""
    folder = Path(folder or BUNDLED_DIR)
    if not (folder / MODEL_FILE).is_file() or not (folder / INFO_FILE).is_file():
        raise FerLabError(f"no bundled model in {folder} ({MODEL_FILE} and {INFO_FILE} are missing): reinstall "
                          "fer_lab from a full checkout, or name a trained model (models:/fer_lab@champion)")
    info = json.loads((folder / INFO_FILE).read_text())
    return BundledModel(folder, ModelMetadata.from_dict(info["metadata"]), info.get("card", {}))


def write_bundled_model(model, metadata: ModelMetadata, card: dict, folder: Path | None = None) -> BundledModel:
    """Save `model` with its metadata and card numbers as the bundled model in `folder`."""
    folder = Path(folder or BUNDLED_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    (folder / INFO_FILE).write_text(json.dumps({"metadata": metadata.to_dict(), "card": card}, indent=2) + "\n")
    return bundled_model(folder)
