"""Data layer: FER-2013 CSV, Kaggle folders, FER+ votes and synthetic faces as uint8 images plus label
distributions, split into train / val / test. Imports no Keras or TensorFlow.

Each data source is a loader in DATA_SOURCES (fer_lab.data.sources); every module of this package is imported
here, so a new module registers its source by itself."""

from fer_lab.data.dataset import FerData, Split, load_dataset, load_images
from fer_lab.data.sources import DATA_SOURCES, RawImages
from fer_lab.registry import import_submodules

import_submodules(__name__)

__all__ = ["DATA_SOURCES", "FerData", "RawImages", "Split", "load_dataset", "load_images"]
