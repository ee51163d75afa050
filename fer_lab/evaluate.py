"""`python -m fer_lab.evaluate model_uri=... split=test`: metrics, report and confusion matrix of a model, and
(split=test, unseen_test=true) the metrics on the test rows with no exact copy in train or val. split=val must be
the model's own validation rows, and split=test must not be (fer_lab.evaluation.held_out).

Data with another label set (data=class_folders) is scored on the classes model and data share, saying what is
left out; evaluation.cross_validate=true scores the test split of every fold of data.folds (mean +- std)."""

import hydra
from omegaconf import DictConfig

import fer_lab.config
import fer_lab.data  # noqa: F401  (the data sources' config schemas: the group evaluate composes)
from fer_lab.command_line import checked_overrides
from fer_lab.config import TTA_MODES, require, resolved_copy
from fer_lab.errors import print_note, report_user_errors


@checked_overrides("evaluate")
@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    import mlflow

    from fer_lab.data import load_dataset
    from fer_lab.evaluation.held_out import model_training_run, require_honest_split, split_to_score
    from fer_lab.evaluation.tracked import evaluate_and_log
    from fer_lab.inference.catalog import default_model_uri
    from fer_lab.inference.loading import load_model
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.runs import ensure_experiment

    require(cfg.split in ("val", "test"), "split", cfg.split, "val or test")
    require(cfg.tta in TTA_MODES, "tta", cfg.tta, " | ".join(TTA_MODES))
    require(isinstance(cfg.unseen_test, bool), "unseen_test", cfg.unseen_test, "true or false")
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    uri = str(cfg.model_uri or default_model_uri(tracking_uri))
    model, meta = load_model(uri, tracking_uri)
    source_run = model_training_run(uri)
    folds = _folds(cfg)
    with mlflow.start_run(
        experiment_id=ensure_experiment(cfg.mlflow.experiment, tracking_uri),
        run_name=f"evaluate-{cfg.split}" + ("-cv" if folds else ""),
    ) as run:
        data = load_dataset(_fold(cfg.data, 0) if folds else cfg.data, seed=cfg.seed)
        for note in data.notes:
            print_note(note)
        mlflow.log_params(
            {
                "model_uri": uri,
                "split": cfg.split,
                "tta": cfg.tta,
                "data.source": data.source,
                "evaluation.cross_validate": bool(folds),
            }
        )
        if tuple(data.class_names) == meta.class_names and not folds:
            split = split_to_score(data, cfg.split, uri, meta)
            print_note(require_honest_split(split, uri, source_run, cfg))
            evaluation = evaluate_and_log(
                model,
                data,
                [split],
                tta=cfg.tta,
                crop_fraction=cfg.crop_fraction,
                unseen_test=cfg.unseen_test,
                temperature=meta.temperature(cfg.tta),
            )
            report = evaluation.reports[cfg.split]
            print(f"{report.summary()}\n{report.text}")
            if evaluation.unseen_test:
                print(evaluation.unseen_test.summary())
        else:
            _score_folds(model, meta, uri, source_run, cfg, data, folds, run.info.run_id)
    print(f"fer_lab: logged as MLflow run {run.info.run_id} in {tracking_uri}")


def _folds(cfg: DictConfig) -> int:
    """The number of folds to score (0: just the configured split)."""
    from fer_lab.errors import FerLabError

    if not cfg.evaluation.cross_validate:
        return 0
    folds = int(cfg.data.get("folds") or 0)
    if folds < 2 or cfg.split != "test":
        raise FerLabError(
            "evaluation.cross_validate=true scores the test split of every fold: use split=test with a dataset "
            "split into folds (data=class_folders, data.folds >= 2)"
        )
    return folds


def _fold(data_cfg: DictConfig, fold: int) -> DictConfig:

    cfg = resolved_copy(data_cfg)
    cfg.test_fold = fold
    return cfg


def _score_folds(model, meta, uri, source_run, cfg, data, folds: int, run_id: str) -> None:
    """Score the split (of every fold) on the classes model and data share; log per-fold and summary metrics."""
    import mlflow
    import numpy as np

    from fer_lab.data import load_dataset
    from fer_lab.evaluation.folds import FoldScore, FoldSummary
    from fer_lab.evaluation.held_out import require_honest_split, split_to_score
    from fer_lab.evaluation.label_sets import score_shared_classes
    from fer_lab.evaluation.tta import predict_with_tta

    scores, all_probs, all_truth = [], [], []
    for fold in range(max(folds, 1)):
        if fold:
            data = load_dataset(_fold(cfg.data, fold), seed=cfg.seed)
        split = split_to_score(data, cfg.split, uri, meta, same_classes=False)
        if tuple(data.class_names) == meta.class_names:
            print_note(require_honest_split(split, uri, source_run, cfg))
        probs = predict_with_tta(model, split.x, cfg.tta, crop_fraction=cfg.crop_fraction)
        report, _ = score_shared_classes(
            probs, split.labels, meta.class_names, data.class_names, split=cfg.split, origin=split.origin, tta=cfg.tta
        )
        scores.append(FoldScore.of(report))
        all_probs.append(probs)
        all_truth.append(split.labels)
        mlflow.log_metrics(report.metrics(), step=fold)
        print(f"fer_lab: {report.summary()}")
    _, notes = score_shared_classes(
        np.concatenate(all_probs),
        np.concatenate(all_truth),
        meta.class_names,
        data.class_names,
        split=cfg.split,
        origin="",
        tta=cfg.tta,
    )  # over every fold
    for note in notes:
        print_note(note)
    mlflow.log_text("\n".join(notes) + "\n", "reports/label_sets.txt")
    summary = FoldSummary(cfg.split, tuple(report.per_class), tuple(scores), cfg.tta)
    summary.log(run_id)
    print(f"fer_lab: {summary.summary()}\n{summary.pooled().text}")


if __name__ == "__main__":
    main()
