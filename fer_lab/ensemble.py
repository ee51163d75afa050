"""`python -m fer_lab.ensemble members=[...]`: one Keras model that averages the probabilities of logged fer_lab
models (any architectures and input crops, one image size and class list), scored on val and test, logged to
MLflow with its members' URIs and runs, registered, and promoted when it beats the champion on the same
validation rows. predict, live, serve, export and evaluate take it as any registered model."""

from __future__ import annotations

from dataclasses import dataclass

import hydra
from omegaconf import DictConfig

import fer_lab.extensions  # noqa: F401  (config schemas; the fer_lab_root resolver)
from fer_lab.command_line import checked_overrides
from fer_lab.errors import FerLabError, report_user_errors


@dataclass(frozen=True)
class EnsembleSummary:
    run_id: str
    version: str | None
    promoted: bool
    members_train_minutes: float


@checked_overrides("ensemble")
@hydra.main(version_base="1.3", config_path="../conf", config_name="ensemble")
@report_user_errors
def main(cfg: DictConfig) -> None:
    build_and_log_ensemble(cfg)


def build_and_log_ensemble(cfg: DictConfig) -> EnsembleSummary:
    """Build the ensemble of cfg.members, evaluate it on cfg.data, log and register it."""
    import mlflow
    from mlflow import MlflowClient

    from fer_lab.config import registered_model_name
    from fer_lab.data import load_dataset
    from fer_lab.evaluation.tracked import evaluate_and_log
    from fer_lab.inference.loading import load_model
    from fer_lab.models.ensemble import ENSEMBLE, build_ensemble
    from fer_lab.tracking import configure_tracking
    from fer_lab.tracking.hardware import hardware_tags
    from fer_lab.tracking.model_io import ModelMetadata, log_keras_model
    from fer_lab.tracking.registry import VAL_FINGERPRINT_TAG, promote_if_better
    from fer_lab.tracking.runs import ensure_experiment, git_tags

    uris = [str(u) for u in cfg.members]
    if len(uris) < 2:
        raise FerLabError(
            f"members={uris}: an ensemble needs at least 2 models, e.g. members=[models:/fer_lab/3,models:/fer_lab/5]"
        )
    tracking_uri = configure_tracking(cfg.mlflow.tracking_uri)
    loaded = [load_model(uri, tracking_uri) for uri in uris]
    first = loaded[0][1]
    for uri, (_, meta) in zip(uris[1:], loaded[1:], strict=True):
        if meta.class_names != first.class_names or meta.image_size != first.image_size:
            raise FerLabError(
                f"member {uri} predicts {', '.join(meta.class_names)} on {meta.image_size}px images, "
                f"member {uris[0]} {', '.join(first.class_names)} on {first.image_size}px: ensemble "
                "members need the same classes in the same order and the same image size"
            )
    data = load_dataset(cfg.data, seed=cfg.seed)
    if tuple(data.class_names) != first.class_names or data.train.x.shape[1] != first.image_size:
        raise FerLabError(
            f"the members predict {', '.join(first.class_names)} on {first.image_size}px images; the "
            f"data has {', '.join(data.class_names)} at {data.train.x.shape[1]}px: point data.* at "
            "the data they were trained on"
        )
    model = build_ensemble([m for m, _ in loaded], first.image_size)
    trained = [_member_training(uri) for uri in uris]
    minutes = sum(m for _, m in trained)
    members = [
        {"uri": uri, "run_id": run_id, "train_minutes": m, "model_name": meta.model_name}
        for uri, (run_id, m), (_, meta) in zip(uris, trained, loaded, strict=True)
    ]
    name = registered_model_name(cfg)
    with mlflow.start_run(
        experiment_id=ensure_experiment(str(cfg.mlflow.experiment), tracking_uri),
        run_name=cfg.mlflow.run_name or f"ensemble-{len(uris)}",
    ) as run:
        mlflow.log_params(
            {
                "members": " ".join(uris),
                "evaluation.tta": cfg.evaluation.tta,
                "seed": cfg.seed,
                "data.source": data.source,
                "model.name": ENSEMBLE,
            }
        )
        mlflow.set_tags(
            {
                **git_tags(),
                **hardware_tags(),
                VAL_FINGERPRINT_TAG: data.val.fingerprint(),
                "fer_lab.ensemble_members": " ".join(uris),
                "fer_lab.ensemble_member_runs": " ".join(m["run_id"] or "-" for m in members),
            }
        )
        mlflow.log_dict({"members": members}, "ensemble/members.json")
        mlflow.log_metrics({"members_train_minutes": minutes, "model_params": float(model.count_params())})
        splits = [s for s in (data.val, data.test) if s is not None and len(s)]
        evaluation = evaluate_and_log(
            model,
            data,
            splits,
            tta=cfg.evaluation.tta,
            crop_fraction=cfg.evaluation.crop_fraction,
            unseen_test=cfg.evaluation.unseen_test,
        )
        metadata = ModelMetadata(first.class_names, first.image_size, first.face_margin, ENSEMBLE)
        info = log_keras_model(model, metadata, data.val.x[:4], registered_name=name or None)
    version = None if info.registered_model_version is None else str(info.registered_model_version)
    promoted = False
    for report in evaluation.reports.values():
        print(f"fer_lab: {report.summary()}")
    if name and version:
        promotion = promote_if_better(
            MlflowClient(), name, version, cfg.mlflow.promote_metric, cfg.mlflow.promote, str(cfg.data.source)
        )
        promoted = promotion.promoted
        print(
            f"fer_lab: registered {name} version {version}"
            + (", alias champion" if promoted else f"; champion stays: {promotion.reason}")
        )
    print(
        f"fer_lab: ensemble of {len(uris)} models ({minutes:.0f} min of member training), MLflow run "
        f"{run.info.run_id} in {tracking_uri}"
    )
    return EnsembleSummary(run.info.run_id, version, promoted, minutes)


def _member_training(uri: str) -> tuple[str | None, float]:
    """The member's training run id and minutes (its teacher's scoring included when distilled): from its MLflow
    run, from the bundled model's card, or unknown (None, 0) for a bare .keras file."""
    from fer_lab.inference.bundled import BUNDLED_URI, bundled_model
    from fer_lab.tracking.model_io import training_run

    if uri == BUNDLED_URI:
        card = bundled_model().card
        return card.get("run_id"), float(card.get("train_minutes", 0.0))
    if uri.endswith(".keras"):
        return None, 0.0
    run = training_run(uri)
    metrics = run.data.metrics
    return run.info.run_id, (metrics.get("train_seconds", 0.0) + metrics.get("teacher_seconds", 0.0)) / 60


if __name__ == "__main__":
    main()
