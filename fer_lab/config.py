"""Hydra/OmegaConf glue: the project-root resolver, config validation and flattening for logging."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from fer_lab.errors import FerLabError
from fer_lab.paths import project_root

OmegaConf.register_new_resolver("fer_lab_root", lambda: str(project_root()), replace=True)

CLASS_WEIGHTS = ("none", "balanced", "effective_number")
TTA_MODES = ("none", "flip", "crops")
PROMOTE_MODES = ("auto", "never", "always")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")  # Keras dtype policies (fer_lab.training.precision)


def direction(metric: str) -> str:
    """"min" for losses, "max" for every other metric (accuracy, macro-F1, ...)."""
    return "min" if str(metric).endswith("loss") else "max"


def require(ok: bool, key: str, value, expected: str) -> None:
    """Raise a FerLabError naming the config key, its bad value and what is allowed."""
    if not ok:
        raise FerLabError(f"invalid config value {key}={value!r}: expected {expected}. "
                          f"Fix it on the command line, e.g. `{key}=...`.")


def validate_train_config(cfg: DictConfig) -> None:
    """Check the trainer, training, evaluation and mlflow values that code would otherwise trip on late."""
    t = cfg.trainer
    require(isinstance(t.epochs, int) and t.epochs >= 1, "trainer.epochs", t.epochs, "an integer >= 1")
    require(isinstance(t.batch_size, int) and t.batch_size >= 1, "trainer.batch_size", t.batch_size,
            "an integer >= 1")
    require(isinstance(t.early_stopping_patience, int) and t.early_stopping_patience >= 0,
            "trainer.early_stopping_patience", t.early_stopping_patience, "an integer >= 0")
    require(str(t.monitor).startswith("val_"), "trainer.monitor", t.monitor,
            "a validation metric (val_accuracy, val_macro_f1 or val_loss): selection never uses test data")
    max_minutes = t.get("max_minutes")
    require(max_minutes is None or (isinstance(max_minutes, (int, float)) and max_minutes > 0),
            "trainer.max_minutes", max_minutes, "null or a number of minutes > 0")
    require(t.precision in PRECISIONS, "trainer.precision", t.precision, " | ".join(PRECISIONS))
    require(t.verbose in ("auto", 0, 1, 2), "trainer.verbose", t.verbose, "auto, 0, 1 or 2")
    require(cfg.training.class_weight in CLASS_WEIGHTS, "training.class_weight",
            cfg.training.class_weight, " | ".join(CLASS_WEIGHTS))
    require(0.0 <= cfg.training.label_smoothing < 1.0, "training.label_smoothing",
            cfg.training.label_smoothing, "a number in [0, 1)")
    require(cfg.evaluation.tta in TTA_MODES, "evaluation.tta", cfg.evaluation.tta, " | ".join(TTA_MODES))
    require(isinstance(cfg.evaluation.get("unseen_test", False), bool), "evaluation.unseen_test",
            cfg.evaluation.get("unseen_test"), "true or false")
    require(0.5 <= cfg.evaluation.crop_fraction < 1.0, "evaluation.crop_fraction",
            cfg.evaluation.crop_fraction, "a number in [0.5, 1)")
    require(cfg.mlflow.promote in PROMOTE_MODES, "mlflow.promote", cfg.mlflow.promote,
            " | ".join(PROMOTE_MODES))
    require(cfg.optimizer.name in ("adam", "sgd"), "optimizer", cfg.optimizer.name,
            "adam or sgd_nesterov (the optimizer config group)")
    require(cfg.optimizer.learning_rate > 0, "optimizer.learning_rate", cfg.optimizer.learning_rate,
            "a positive number")
    require(cfg.schedule.name in ("plateau", "cosine", "cosine_budget", "constant"), "schedule", cfg.schedule.name,
            "plateau, cosine, cosine_budget or constant (the schedule config group)")
    require(cfg.schedule.name != "cosine_budget" or max_minutes is not None, "trainer.max_minutes", max_minutes,
            "a number of minutes with schedule=cosine_budget (the schedule spans the time budget)")


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

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out
