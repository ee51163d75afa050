"""Hydra/OmegaConf glue: the project-root resolver, the train config's section schemas, the `require` check and
flattening for logging."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, cast

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from fer_lab.errors import FerLabError
from fer_lab.paths import project_root

OmegaConf.register_new_resolver("fer_lab_root", lambda: str(project_root()), replace=True)


class ClassWeight(enum.StrEnum):
    none = "none"
    balanced = "balanced"
    effective_number = "effective_number"  # Cui et al. 2019


class Tta(enum.StrEnum):
    """Test-time augmentation: none, mirrored faces averaged in, or ten crops (4 corners + centre, each flipped)."""

    none = "none"
    flip = "flip"
    crops = "crops"


class Promote(enum.StrEnum):
    auto = "auto"
    never = "never"
    always = "always"


class Precision(enum.StrEnum):
    """Keras dtype policies for building and training (fer_lab.training.precision)."""

    float32 = "float32"
    mixed_bfloat16 = "mixed_bfloat16"
    mixed_float16 = "mixed_float16"


class Distribution(enum.StrEnum):
    """Devices one run trains on (fer_lab.training.distribution)."""

    none = "none"  # the default device
    data_parallel = "data_parallel"  # every local GPU (or CPU device), each batch split across them


REGISTERED_MODEL_NAME = "fer_lab"  # the registry name every command defaults to (mlflow.registered_model_name)
SYNTHETIC_SOURCE = "synthetic"  # data.source of generated faces: such models never stand in for a real one
TTA_MODES = tuple(mode.value for mode in Tta)  # plain strings, for argparse choices and messages
PRECISIONS = tuple(policy.value for policy in Precision)


@dataclass
class TrainerConfig:
    epochs: int = 30
    batch_size: int = 64
    monitor: str = "val_accuracy"
    early_stopping_patience: int = 8
    max_minutes: float | None = None
    resume: bool = True
    deterministic: bool = False
    init_seed: int | None = None
    precision: Precision = Precision.float32
    distribution: Distribution | None = Distribution.none
    verbose: int | str = "auto"


@dataclass
class TrainingConfig:
    class_weight: ClassWeight = ClassWeight.effective_number
    effective_number_beta: float = 0.999
    label_smoothing: float = 0.0
    teacher: str | None = None  # a model URI (an ensemble too) whose softened outputs the student learns
    distill_weight: float = 0.5  # training targets: (1 - w) * labels + w * teacher probabilities
    distill_temperature: float = 2.0  # the teacher's probabilities ** (1 / T), renormalised: T > 1 softens
    teacher_tta: Tta = Tta.flip  # the teacher's test-time augmentation on each training image


@dataclass
class EvaluationConfig:
    tta: Tta = Tta.flip
    crop_fraction: float = 0.875
    sample_grid: int = 36
    unseen_test: bool = True
    cross_validate: bool = False
    refit: bool = False  # after cross-validation, also train the model to register on every fold


@dataclass
class MlflowConfig:
    tracking_uri: str | None = None
    experiment: str = "train"
    run_name: str | None = None
    registered_model_name: str = REGISTERED_MODEL_NAME
    promote: Promote = Promote.auto
    promote_metric: str = "val_accuracy"


for _name, _node in {
    "trainer": TrainerConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
    "mlflow": MlflowConfig,
}.items():
    # conf/train.yaml extends these (`- <name>_schema@<name>`): Hydra checks the sections' types and choices.
    ConfigStore.instance().store(name=f"{_name}_schema", node=_node, package=_name)


def direction(metric: str) -> str:
    """ "min" for losses, "max" for every other metric (accuracy, macro-F1, ...)."""
    return "min" if str(metric).endswith("loss") else "max"


def require(ok: bool, key: str, value, expected: str) -> None:
    """Raise a FerLabError naming the config key, its bad value and what is allowed."""
    if not ok:
        raise FerLabError(
            f"invalid config value {key}={value!r}: expected {expected}. Fix it on the command line, e.g. `{key}=...`."
        )


def to_plain_dict(cfg: DictConfig) -> dict[str, Any]:
    """`cfg` resolved into plain dicts and lists."""
    return cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))


def resolved_copy(cfg: DictConfig) -> DictConfig:
    """An independent copy of `cfg` with its interpolations resolved (edits leave `cfg` as it was)."""
    return OmegaConf.create(to_plain_dict(cfg))


def flatten(cfg: DictConfig, exclude: tuple[str, ...] = ("hydra", "paths")) -> dict[str, str]:
    """Resolved config as {"a.b.c": value} for MLflow params (lists joined as strings)."""
    out: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not prefix and key in exclude:
                    continue
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = str(node)

    walk(to_plain_dict(cfg), "")
    return out


def registered_model_name(cfg: DictConfig) -> str:
    """Where a run's model registers: `mlflow.registered_model_name`, except that models trained on synthetic faces
    under the default name go to `<name>_synthetic`, so they never stand in for the model inference uses."""
    name = str(cfg.mlflow.registered_model_name or "")
    if name == REGISTERED_MODEL_NAME and cfg.data.get("source") == SYNTHETIC_SOURCE:
        return f"{name}_{SYNTHETIC_SOURCE}"
    return name
