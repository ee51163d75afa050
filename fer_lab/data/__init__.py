"""Data layer: FER-2013 CSV, Kaggle folders, FER+ votes and synthetic faces as uint8 images plus label
distributions, split into train / val / test. Imports no Keras or TensorFlow."""

from fer_lab.data.dataset import FerData, RawImages, Split, load_dataset, load_images

__all__ = ["FerData", "RawImages", "Split", "load_dataset", "load_images"]
