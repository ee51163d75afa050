"""Resumable fitting in phases: one phase from scratch, head-then-fine-tune for a pretrained model."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import keras
from omegaconf import DictConfig

from fer_lab.data import FerData
from fer_lab.errors import FerLabError
from fer_lab.models import caches_head_features, has_backbone, set_body_trainable
from fer_lab.training.batches import MixupBatches
from fer_lab.training.callbacks import EpochLine, Throughput, TimeBudget
from fer_lab.training.checkpoint import Checkpointing, CheckpointStore, RunState
from fer_lab.training.class_weights import class_weights
from fer_lab.training.distribution import split_evenly
from fer_lab.training.feature_cache import fit_head_on_features, head_model
from fer_lab.training.optimizers import make_optimizer
from fer_lab.training.schedules import schedule_callbacks
from fer_lab.training.seeding import training_seed


@dataclass(frozen=True)
class Phase:
    """Epochs [start, end) trained with the top `trainable_top` backbone layers unfrozen at `learning_rate`,
    their BatchNorm layers too when `train_batchnorm`."""

    name: str
    start: int
    end: int
    trainable_top: int | None
    learning_rate: float
    train_batchnorm: bool = False


@dataclass(frozen=True)
class FitResult:
    model: keras.Model
    state: RunState
    resumed_at: int | None  # epoch a resumed run continued from; None for a fresh run
    epoch_seconds: tuple[float, ...]
    images_per_second: float

    @property
    def best_epoch(self) -> int:
        """0-based epoch of the weights kept."""
        if self.state.best_epoch is None:
            raise FerLabError("no epoch finished, so no weights were kept: raise trainer.epochs or trainer.max_minutes")
        return self.state.best_epoch


def plan_phases(cfg: DictConfig, model: keras.Model) -> list[Phase]:
    """Two phases for a pretrained model with model.fine_tune (frozen body while the head trains, then
    fine-tuning the body's top layers); pretrained: ImageNet backbone weights or model.init_from.

    A model trained from scratch trains whole in one phase, BatchNorm included: a frozen random body teaches the
    head nothing.
    """
    lr, epochs = float(cfg.optimizer.learning_rate), int(cfg.trainer.epochs)
    fine_tune = cfg.model.get("fine_tune")
    pretrained = cfg.model.get("init_from") or (has_backbone(model) and cfg.model.get("weights") is not None)
    if not (fine_tune and pretrained):
        return [Phase("train", 0, epochs, -1 if has_backbone(model) else None, lr, train_batchnorm=True)]
    head = min(int(fine_tune.head_epochs), epochs)
    phases = [Phase("head", 0, head, 0, lr)] if head else []
    if head < epochs:
        phases.append(
            Phase(
                "finetune",
                head,
                epochs,
                int(fine_tune.unfreeze_top),
                lr * fine_tune.lr_factor,
                bool(fine_tune.train_batchnorm),
            )
        )
    return phases


def compile_model(
    model: keras.Model, cfg: DictConfig, learning_rate: float, optimizer: keras.optimizers.Optimizer | None = None
) -> None:
    """Compile with the configured loss and metrics, and `optimizer` or a new one at `learning_rate`."""
    model.compile(
        optimizer=optimizer or make_optimizer(cfg.optimizer, learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.training.label_smoothing),
        metrics=["accuracy", keras.metrics.F1Score(average="macro", name="macro_f1")],
    )


def fit_resumable(
    model: keras.Model, data: FerData, cfg: DictConfig, store: CheckpointStore, state: RunState, extra_callbacks: list
) -> FitResult:
    """Train through every phase, continuing from `state` (saved by an interrupted run) when it has epochs.

    Returns the model with the best weights by trainer.monitor on the validation split. The head phase trains
    on cached backbone features when caches_head_features says so.
    """
    data = split_evenly(data)
    resumed_at = state.epoch if state.epoch else None
    weights = class_weights(
        data.train.labels, len(data.class_names), cfg.training.class_weight, cfg.training.effective_number_beta
    )
    throughput = Throughput(len(data.train))
    max_minutes = cfg.trainer.get("max_minutes")
    budget = [TimeBudget(float(max_minutes), state.train_seconds)] if max_minutes else []
    verbose = _verbosity(cfg.trainer.verbose)
    cache = caches_head_features(cfg.model, cfg.augmentation)
    restore = resumed_at is not None  # only an interrupted run's model lives on disk alone
    for phase in plan_phases(cfg, model):
        if state.epoch >= phase.end:
            continue
        if restore:
            model, restore = store.load_last(), False
        if state.phase != phase.name:
            if phase.trainable_top is not None:
                set_body_trainable(model, phase.trainable_top, phase.train_batchnorm)
            compile_model(model, cfg, phase.learning_rate)
        ema = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if cfg.optimizer.get("ema_momentum") else []
        callbacks = [
            *ema,
            throughput,
            *schedule_callbacks(
                cfg.schedule, phase.learning_rate, phase.end, cfg.trainer.monitor, budget[0] if budget else None
            ),
            Checkpointing(
                store, state, phase.name, phase.start, cfg.trainer.monitor, cfg.trainer.early_stopping_patience
            ),
            *budget,
            *extra_callbacks,
        ]
        if verbose == 2:
            callbacks.append(EpochLine(int(cfg.trainer.epochs), phase.name))
        fit_args = {
            "initial_epoch": max(state.epoch, phase.start),
            "epochs": phase.end,
            "verbose": 1 if verbose == 1 else 0,
        }
        if phase.name == "head" and cache:
            head = head_model(model)
            compile_model(head, cfg, phase.learning_rate, optimizer=model.optimizer)  # one optimizer state
            fit_head_on_features(
                model, head, _inputs(data, cfg, weights), (data.val.x, data.val.y), callbacks, **fit_args
            )
        else:
            model.fit(
                **_inputs(data, cfg, weights), validation_data=(data.val.x, data.val.y), callbacks=callbacks, **fit_args
            )
        state.epoch = phase.end  # an early-stopped phase is finished too: a resume must not repeat it
        store.save(state)
        if model.stop_training and (phase.name != "head" or (budget and budget[0].stopped_at)):
            break
    if store.best_path.exists():
        store.load_best(model)
    seconds = tuple(throughput.seconds)
    rate = len(data.train) * len(seconds) / sum(seconds) if seconds else 0.0
    return FitResult(model, state, resumed_at, seconds, rate)


def _inputs(data: FerData, cfg: DictConfig, weights) -> dict:
    alpha = float(cfg.augmentation.get("mixup", 0.0) or 0.0)
    if alpha > 0:
        return {
            "x": MixupBatches(data.train.x, data.train.y, cfg.trainer.batch_size, alpha, weights, training_seed(cfg))
        }
    class_weight = None if weights is None else {i: float(w) for i, w in enumerate(weights)}
    return {
        "x": data.train.x,
        "y": data.train.y,
        "batch_size": cfg.trainer.batch_size,
        "shuffle": True,
        "class_weight": class_weight,
    }


def _verbosity(setting) -> int:
    if setting == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(setting)
