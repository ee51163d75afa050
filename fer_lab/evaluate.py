"""`python -m fer_lab.evaluate model_uri=... split=test`: metrics, report and confusion matrix of a model, and
(split=test, unseen_test=true) the metrics on the test rows with no exact copy in train or val. split=val must be
the model's own validation rows, and split=test must not be (fer_lab.evaluation.held_out)."""

import tempfile
from pathlib import Path

import hydra
from omegaconf import DictConfig

import fer_lab.extensions  # noqa: F401  (every extension point's config schema; the fer_lab_root resolver)
from fer_lab.config import TTA_MODES, require
from fer_lab.errors import FerLabError, report_user_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    import mlflow

    from fer_lab.data import load_dataset
    from fer_lab.evaluation import evaluate_split, unseen_test_report
    from fer_lab.evaluation.held_out import require_honest_split
    from fer_lab.evaluation.plots import plot_confusion
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.model_io import load_logged_model, training_run
    from fer_lab.tracking.runs import ensure_experiment

    require(cfg.split in ("val", "test"), "split", cfg.split, "val or test")
    require(cfg.tta in TTA_MODES, "tta", cfg.tta, " | ".join(TTA_MODES))
    require(isinstance(cfg.unseen_test, bool), "unseen_test", cfg.unseen_test, "true or false")
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    model, meta = load_logged_model(cfg.model_uri)
    data = load_dataset(cfg.data, seed=cfg.seed)
    split = getattr(data, cfg.split)
    if split is None or not len(split):
        raise FerLabError(f"{data.source} has no {cfg.split} split; use split=val or a dataset with a test split")
    if split.x.shape[1] != meta.image_size or tuple(data.class_names) != meta.class_names:
        raise FerLabError(f"{cfg.model_uri} expects {meta.image_size}px images of classes {meta.class_names}; "
                          f"the data has {split.x.shape[1]}px and {data.class_names}. Set data.image_size="
                          f"{meta.image_size} or pick a matching model")
    note = require_honest_split(split, cfg.model_uri, training_run(cfg.model_uri), cfg)
    if note:
        print(f"fer_lab: note: {note}")
    report = evaluate_split(model, split.x, split.y, data.class_names, split=cfg.split, origin=split.origin,
                            tta=cfg.tta, crop_fraction=cfg.crop_fraction)
    unseen = (unseen_test_report(report, split, (data.train, data.val), data.class_names)
              if cfg.split == "test" and cfg.unseen_test else None)
    print(f"{report.summary()}\n{report.text}")
    if unseen:
        print(unseen.summary())
    with mlflow.start_run(experiment_id=ensure_experiment(cfg.mlflow.experiment, tracking_uri),
                          run_name=f"evaluate-{cfg.split}") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.log_params({"model_uri": cfg.model_uri, "split": cfg.split, "split_origin": split.origin,
                           "tta": cfg.tta, "data.source": data.source})
        mlflow.log_metrics({**report.metrics(), **(unseen.metrics() if unseen else {})})
        mlflow.log_artifact(str(plot_confusion(report, data.class_names, Path(tmp) / f"confusion_{cfg.split}.png")),
                            "figures")
        mlflow.log_text(f"{report.summary()}\n\n{report.text}", f"reports/classification_{cfg.split}.txt")
    print(f"fer_lab: logged as MLflow run {run.info.run_id} in {tracking_uri}")


if __name__ == "__main__":
    main()
