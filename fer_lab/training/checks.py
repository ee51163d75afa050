"""The checks a composed train config passes before a run starts (fer_lab.config's schemas check the types)."""

from __future__ import annotations

from omegaconf import DictConfig

from fer_lab.config import require
from fer_lab.training.schedules import check_schedule


def validate_train_config(cfg: DictConfig) -> None:
    """Check what the config schemas cannot: value ranges, and that the schedule can be built (cosine_budget needs
    trainer.max_minutes). Runs before any data is loaded or MLflow run opened."""
    t = cfg.trainer
    require(t.epochs >= 1, "trainer.epochs", t.epochs, "an integer >= 1")
    require(t.batch_size >= 1, "trainer.batch_size", t.batch_size, "an integer >= 1")
    require(
        t.early_stopping_patience >= 0, "trainer.early_stopping_patience", t.early_stopping_patience, "an integer >= 0"
    )
    require(
        str(t.monitor).startswith("val_"),
        "trainer.monitor",
        t.monitor,
        "a validation metric (val_accuracy, val_macro_f1 or val_loss): selection never uses test data",
    )
    max_minutes = t.get("max_minutes")
    require(
        max_minutes is None or max_minutes > 0, "trainer.max_minutes", max_minutes, "null or a number of minutes > 0"
    )
    require(t.verbose in ("auto", 0, 1, 2), "trainer.verbose", t.verbose, "auto, 0, 1 or 2")
    require(
        not cfg.evaluation.get("refit") or cfg.evaluation.cross_validate,
        "evaluation.refit",
        cfg.evaluation.get("refit"),
        "false unless evaluation.cross_validate=true (the refit trains on every fold after the cross-validation)",
    )
    require(
        0.0 <= cfg.training.label_smoothing < 1.0,
        "training.label_smoothing",
        cfg.training.label_smoothing,
        "a number in [0, 1)",
    )
    require(
        0.5 <= cfg.evaluation.crop_fraction < 1.0,
        "evaluation.crop_fraction",
        cfg.evaluation.crop_fraction,
        "a number in [0.5, 1)",
    )
    require(
        cfg.optimizer.learning_rate > 0, "optimizer.learning_rate", cfg.optimizer.learning_rate, "a positive number"
    )
    check_schedule(cfg)
