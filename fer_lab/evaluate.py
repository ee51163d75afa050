"""`python -m fer_lab.evaluate model_uri=... split=test`: metrics, report and confusion matrix of a model, and
(split=test, unseen_test=true) the metrics on the test rows with no exact copy in train or val. split=val must be
the model's own validation rows, and split=test must not be (fer_lab.evaluation.held_out)."""

import hydra
from omegaconf import DictConfig

import fer_lab.config  # noqa: F401  (the fer_lab_root resolver)
import fer_lab.data  # noqa: F401  (the data sources' config schemas: the group evaluate composes)
from fer_lab.config import TTA_MODES, require
from fer_lab.errors import report_user_errors


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
@report_user_errors
def main(cfg: DictConfig) -> None:
    import mlflow

    from fer_lab.data import load_dataset
    from fer_lab.evaluation.held_out import require_honest_split, split_to_score
    from fer_lab.evaluation.tracked import evaluate_and_log
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.model_io import load_logged_model, registry_uri, training_run
    from fer_lab.tracking.runs import ensure_experiment

    require(cfg.split in ("val", "test"), "split", cfg.split, "val or test")
    require(cfg.tta in TTA_MODES, "tta", cfg.tta, " | ".join(TTA_MODES))
    require(isinstance(cfg.unseen_test, bool), "unseen_test", cfg.unseen_test, "true or false")
    uri = str(cfg.model_uri or registry_uri())
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    model, meta = load_logged_model(uri)
    data = load_dataset(cfg.data, seed=cfg.seed)
    split = split_to_score(data, cfg.split, uri, meta)
    note = require_honest_split(split, uri, training_run(uri), cfg)
    if note:
        print(f"fer_lab: note: {note}")
    with mlflow.start_run(experiment_id=ensure_experiment(cfg.mlflow.experiment, tracking_uri),
                          run_name=f"evaluate-{cfg.split}") as run:
        mlflow.log_params({"model_uri": uri, "split": cfg.split, "split_origin": split.origin,
                           "tta": cfg.tta, "data.source": data.source})
        evaluation = evaluate_and_log(model, data, [split], tta=cfg.tta, crop_fraction=cfg.crop_fraction,
                                      unseen_test=cfg.unseen_test)
    report = evaluation.reports[cfg.split]
    print(f"{report.summary()}\n{report.text}")
    if evaluation.unseen_test:
        print(evaluation.unseen_test.summary())
    print(f"fer_lab: logged as MLflow run {run.info.run_id} in {tracking_uri}")


if __name__ == "__main__":
    main()
