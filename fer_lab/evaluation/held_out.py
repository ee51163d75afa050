"""Guard the split a stand-alone evaluation names: it must fit the model's input and classes, a `val` score
must come from the rows the model was validated on (other rows may be ones it trained on), and a `test` score
must not (its checkpoint was chosen on them). The training run's `data.val_fingerprint` tag says which rows
those were."""

from __future__ import annotations

from omegaconf import DictConfig

from fer_lab.config import flatten
from fer_lab.data import FerData, Split
from fer_lab.errors import FerLabError
from fer_lab.tracking.model_io import ModelMetadata
from fer_lab.tracking.registry import VAL_FINGERPRINT_TAG


def split_to_score(data: FerData, name: str, model_uri: str, meta: ModelMetadata, same_classes: bool = True) -> Split:
    """The split `name` of `data`, refused when it is missing or its image size (or, with `same_classes`, its
    classes) are not the model's."""
    split = getattr(data, name)
    if split is None or not len(split):
        raise FerLabError(f"{data.source} has no {name} split; use split=val or a dataset with a test split")
    if split.x.shape[1] != meta.image_size or (same_classes and tuple(data.class_names) != meta.class_names):
        raise FerLabError(
            f"{model_uri} expects {meta.image_size}px images of classes {meta.class_names}; "
            f"the data has {split.x.shape[1]}px and {data.class_names}. Set data.image_size="
            f"{meta.image_size} or pick a matching model"
        )
    return split


def model_training_run(model_uri: str):
    """The MLflow run that logged the model at `model_uri`, for require_honest_split: None for the bundled model
    (its card keeps the fingerprint) and bare .keras files, and when this tracking store does not hold it."""
    from fer_lab.inference.bundled import BUNDLED_URI
    from fer_lab.tracking.model_io import training_run

    return None if model_uri == BUNDLED_URI or model_uri.endswith(".keras") else training_run(model_uri)


def require_honest_split(split: Split, model_uri: str, training_run, cfg: DictConfig) -> str | None:
    """Raise FerLabError when scoring `split` (loaded with `cfg`) would report a score as something it is not.

    `training_run` is the MLflow run that logged the model (None when this tracking store lacks it; the bundled
    model's card keeps its run's fingerprint). Returns a note when the split cannot be checked, else None.
    """
    validated_on = training_run.data.tags.get(VAL_FINGERPRINT_TAG) if training_run else _bundled_fingerprint(model_uri)
    if validated_on is None:
        return (
            f"cannot check which rows {model_uri} was validated on (its training run is not in this tracking "
            f"store or predates the {VAL_FINGERPRINT_TAG} tag): make sure the data settings are its own"
        )
    same = split.fingerprint() == validated_on
    if split.name == "val" and not same:
        raise FerLabError(
            f"{model_uri} was validated on other rows than this val split ({split.origin}), so some "
            "of them may be rows it trained on and the score would be inflated. Score its own "
            f"validation rows: {_fix(training_run, cfg)}"
        )
    if split.name == "test" and same:
        raise FerLabError(
            f"this test split ({split.origin}) holds exactly the rows {model_uri} was validated "
            "on: its checkpoint was chosen on them, so the score is not a test score. Use split=val, "
            "or a test split the model never saw (data.test_split=PrivateTest)"
        )
    return None


def _bundled_fingerprint(model_uri: str) -> str | None:
    from fer_lab.inference.bundled import BUNDLED_URI, bundled_model

    return bundled_model().card.get("val_fingerprint") if model_uri == BUNDLED_URI else None


def _fix(training_run, cfg: DictConfig) -> str:
    """The overrides that give `cfg` the split settings of the training run (`+key` for keys `cfg` lacks)."""
    if training_run is None:
        return "the FER-2013 CSV or folders it was trained on, with the default seed and data.val_fraction"
    ours = flatten(cfg)
    differing = [
        f"{'' if key in ours else '+'}{key}={'null' if value == 'None' else value}"
        for key, value in sorted(training_run.data.params.items())
        if (key == "seed" or key.startswith("data.")) and ours.get(key) != value
    ]
    if not differing:
        return (
            "its training run had the same seed and data.* settings, so the data itself differs: point "
            "data.path at the dataset it was trained on"
        )
    return "pass its training run's settings " + " ".join(differing)
