"""The reference model shipped inside the package, so inference works before any training.

fer_lab/assets/reference/ holds model.keras, model.json (the metadata inference needs and the numbers of
its model card) and MODEL_CARD.md. The model URI `bundled` names it wherever a model URI is taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from fer_lab.errors import FerLabError
from fer_lab.paths import PACKAGE_DIR
from fer_lab.tracking.model_io import ModelMetadata

BUNDLED_URI = "bundled"
BUNDLED_ALIAS = "bundled"
"""The registry alias `python -m fer_lab.bundle register` gives the bundled model's version."""
BUNDLED_DIR = PACKAGE_DIR / "assets" / "reference"
MODEL_FILE, INFO_FILE, CARD_FILE = "model.keras", "model.json", "MODEL_CARD.md"


@dataclass(frozen=True)
class BundledModel:
    """Where the bundled model lies, what inference needs to run it, and what its card says."""

    folder: Path
    metadata: ModelMetadata
    card: dict

    @property
    def model_file(self) -> Path:
        return self.folder / MODEL_FILE


def has_bundled_model() -> bool:
    return (BUNDLED_DIR / MODEL_FILE).is_file() and (BUNDLED_DIR / INFO_FILE).is_file()


def bundled_model(folder: Path | None = None) -> BundledModel:
    """The bundled model's files and card; a clear error when the package ships none."""
    folder = Path(folder or BUNDLED_DIR)
    if not (folder / MODEL_FILE).is_file() or not (folder / INFO_FILE).is_file():
        raise FerLabError(
            f"no bundled model in {folder} ({MODEL_FILE} and {INFO_FILE} are missing): reinstall "
            "fer_lab from a full checkout, or name a trained model (models:/fer_lab@champion)"
        )
    info = json.loads((folder / INFO_FILE).read_text())
    return BundledModel(folder, ModelMetadata.from_dict(info["metadata"]), info.get("card", {}))


def write_bundled_model(model, metadata: ModelMetadata, card: dict, folder: Path | None = None) -> BundledModel:
    """Save `model` with its metadata and card numbers as the bundled model in `folder`."""
    folder = Path(folder or BUNDLED_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    _inference_copy(model).save(folder / MODEL_FILE)
    return _write_info(folder, metadata, card)


def write_calibration(temperatures: dict[str, float], calibration: dict, folder: Path | None = None) -> BundledModel:
    """Give the bundled model `temperatures` (TTA mode -> T, in its metadata) and the `calibration` numbers (in its
    card, which is rendered again)."""
    bundled = bundled_model(folder)
    bundled = _write_info(
        bundled.folder,
        replace(bundled.metadata, temperatures=temperatures),
        {**bundled.card, "calibration": calibration},
    )
    (bundled.folder / CARD_FILE).write_text(render_card(bundled))
    return bundled


def _write_info(folder: Path, metadata: ModelMetadata, card: dict) -> BundledModel:
    (folder / INFO_FILE).write_text(json.dumps({"metadata": metadata.to_dict(), "card": card}, indent=2) + "\n")
    return bundled_model(folder)


def _inference_copy(model):
    """`model` without its optimizer state, which would triple the file and serves no inference."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def bundled_mlflow_model(cache: Path) -> Path:
    """The bundled model as an MLflow model folder under `cache` (written once per model and metadata), for
    `mlflow models serve`."""
    import hashlib

    bundled = bundled_model()
    digest = hashlib.sha256(bundled.model_file.read_bytes())
    digest.update(json.dumps(bundled.metadata.to_dict(), sort_keys=True).encode())
    folder = Path(cache) / f"bundled-{digest.hexdigest()[:16]}"
    if not (folder / "MLmodel").is_file():
        import keras
        import mlflow
        import numpy as np
        from mlflow.models import infer_signature

        from fer_lab.tracking.model_io import METADATA_KEY, pip_requirements

        model = keras.saving.load_model(bundled.model_file, compile=False)
        size = bundled.metadata.image_size
        x = np.zeros((1, size, size, 1), dtype="float32")
        tmp = folder.with_name(folder.name + ".tmp")
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        mlflow.keras.save_model(
            model,
            str(tmp),
            signature=infer_signature(x, np.asarray(model.predict(x, verbose=0))),
            metadata={METADATA_KEY: bundled.metadata.to_dict()},
            pip_requirements=pip_requirements(),
        )
        tmp.rename(folder)
    return folder


def write_from_run(
    model_uri: str, command: str, tracking_uri: str | None = None, folder: Path | None = None
) -> BundledModel:
    """Make the logged model at `model_uri` the bundled one, with a card of its training run's numbers."""
    from fer_lab.tracking.model_io import load_logged_model, training_run
    from fer_lab.tracking.registry import VAL_FINGERPRINT_TAG
    from fer_lab.tracking.uri import configure_tracking

    configure_tracking(tracking_uri)
    model, metadata = load_logged_model(model_uri)
    run = training_run(model_uri)
    if run is None:
        raise FerLabError(f"{model_uri} has no training run in this tracking store: the card needs its metrics")
    metrics, tags, params = run.data.metrics, run.data.tags, run.data.params
    missing = [k for k in CARD_METRICS if k not in metrics]
    if missing:
        raise FerLabError(
            f"run {run.info.run_id} lacks {', '.join(missing)}: bundle a model evaluated on a "
            "validation and a test split by `python -m fer_lab.train`"
        )
    card = {
        "model_name": metadata.model_name,
        "run_id": run.info.run_id,
        "command": command,
        "commit": tags.get("git_commit", "unknown"),
        "hardware": tags.get("hardware", "unknown"),
        "data": Path(tags.get("data.source", "unknown")).name,
        "splits": {s: tags.get(f"data.{s}_origin") for s in ("train", "val", "test")},
        "val_fingerprint": tags.get(VAL_FINGERPRINT_TAG),
        "tta": params.get("evaluation.tta", "none"),
        **{k: round(metrics[k], 4) for k in CARD_METRICS},
        "train_minutes": round(metrics.get("train_seconds", 0.0) / 60, 1),
        "epochs": int(metrics.get("epochs_trained", 0)),
        "params": int(model.count_params()),
    }
    bundled = write_bundled_model(model, metadata, card, folder)
    card["size_mb"] = round(bundled.model_file.stat().st_size / 2**20, 2)
    card["ms_per_face"] = round(_ms_per_face(model, metadata, card["tta"]), 2)
    bundled = write_bundled_model(model, metadata, card, folder)
    (bundled.folder / CARD_FILE).write_text(render_card(bundled))
    return bundled


CARD_METRICS = (
    "val_accuracy",
    "val_macro_f1",
    "test_accuracy",
    "test_macro_f1",
    "test_recall_disgust",
    "test_recall_fear",
)


def render_card(bundled: BundledModel) -> str:
    """MODEL_CARD.md: what the bundled model is, how it was made and how well it does, by split."""
    c, m = bundled.card, bundled.metadata
    test_row = (
        f"| test | {c['test_accuracy']:.4f} | {c['test_macro_f1']:.4f} | {c['test_recall_disgust']:.4f} "
        f"| {c['test_recall_fear']:.4f} |"
    )
    return f"""# fer_lab bundled reference model: {c["model_name"]}

Used by `python -m fer_lab.app`, `predict`, `live`, `serve` and `EmotionRecognizer` when the registry has no
`models:/fer_lab@champion`; its model URI is `bundled`.

| | |
|---|---|
| input | {m.image_size}x{m.image_size} grayscale face, raw 0..255 pixels, face margin {m.face_margin} |
| classes | {", ".join(m.class_names)} |
| parameters | {c["params"]:,} ({c["size_mb"]} MB file) |
| data | {c["data"]}: train = {c["splits"]["train"]}; val = {c["splits"]["val"]}; test = {c["splits"]["test"]} |
| training | {c["train_minutes"]} min, {c["epochs"]} epochs on {c["hardware"]} |
| command | `{c["command"]}` |
| commit | {c["commit"]} (MLflow run {c["run_id"]}) |

Checkpoint chosen on validation accuracy only. Scores with test-time augmentation `{c["tta"]}` (the live default):

| split | accuracy | macro-F1 | disgust recall | fear recall |
|---|---|---|---|---|
| val | {c["val_accuracy"]:.4f} | {c["val_macro_f1"]:.4f} | | |
{test_row}

Speed: {c["ms_per_face"]} ms per face (model only, tta={c["tta"]}, one face per call, on the training machine).
{_calibration_section(c.get("calibration"))}"""


def _calibration_section(calibration: dict | None) -> str:
    """The card's calibration paragraph and table, one row per TTA mode, when the model was calibrated
    (`python -m fer_lab.calibrate`)."""
    if not calibration:
        return ""
    splits = [s for s in ("val", "test") if all(f"{s}_ece_after" in m for m in calibration["modes"].values())]
    header = "".join(f" {s} ECE before | {s} ECE after |" for s in splits)
    rows = "\n".join(
        f"| {tta} | {m['temperature']:.3f} |"
        + "".join(f" {m[f'{s}_ece_before']:.4f} | {m[f'{s}_ece_after']:.4f} |" for s in splits)
        for tta, m in calibration["modes"].items()
    )
    return f"""
Calibration: the served probabilities are the model's at the TTA mode it runs with, scaled by that mode's
temperature T (softmax of the log-probabilities divided by it), fitted on the validation rows at that mode by
`{calibration["command"]}`.
Expected calibration error (top label, {calibration["bins"]} equal-width bins), before and after:

| tta | T |{header}
|---|---:|{"---:|---:|" * len(splits)}
{rows}
"""


def register_bundled(name: str, tracking_uri: str | None = None) -> str:
    """Log the bundled model as a new version of `name` with alias `bundled`; returns the version."""
    import keras
    import mlflow
    import numpy as np

    from fer_lab.tracking.model_io import log_keras_model
    from fer_lab.tracking.registry import VAL_FINGERPRINT_TAG
    from fer_lab.tracking.runs import ensure_experiment
    from fer_lab.tracking.uri import configure_tracking

    bundled = bundled_model()
    experiment_id = ensure_experiment("bundled", configure_tracking(tracking_uri))
    model = keras.saving.load_model(bundled.model_file, compile=False)
    size = bundled.metadata.image_size
    card = bundled.card
    with mlflow.start_run(experiment_id=experiment_id, run_name="bundled_reference"):
        mlflow.set_tags(
            {
                "fer_lab.bundled_from_run": card.get("run_id", ""),
                **({VAL_FINGERPRINT_TAG: card["val_fingerprint"]} if card.get("val_fingerprint") else {}),
            }
        )
        mlflow.log_metrics({k: float(card[k]) for k in CARD_METRICS if k in card})
        info = log_keras_model(model, bundled.metadata, np.zeros((1, size, size, 1), "float32"), name)
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, BUNDLED_ALIAS, version)
    return version


def _ms_per_face(model, metadata: ModelMetadata, tta: str) -> float:
    """Median ms to classify one face with `tta`, as live inference calls the model."""
    import time

    import numpy as np

    from fer_lab.inference.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer(model, metadata, detector=lambda frame, gray: [], tta=tta)
    face = np.random.default_rng(0).uniform(0, 255, (1, metadata.image_size, metadata.image_size, 1))
    times = []
    for _ in range(60):
        start = time.perf_counter()
        recognizer.predict_proba(face)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times[10:]))
