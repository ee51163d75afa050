"""Print the reference-results table (markdown) straight from MLflow training runs.

    .venv/bin/python experiments/results_table.py RUN_ID [RUN_ID ...] [--tracking-uri URI] [--no-latency]

One row per run and split (validation = stratified part of Training, test = PublicTest, as logged in the
run's data tags; test_unseen = the test rows with no exact pixel copy in train or val): accuracy, macro-F1,
disgust and fear recall after the run's TTA, parameters, training time (plus the teacher's scoring of a distilled
run), throughput and hardware (the run's `hardware` tag), and inference ms/image: the logged model's
`predict_on_batch` on one 48x48 face, median of 50 calls on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

HEADER = (
    "| recipe (MLflow run) | split | accuracy | macro-F1 | disgust recall | fear recall | params | "
    "train time | img/s | hardware | inference ms/image |"
)


def run_rows(client, run_id: str, latency: bool) -> list[str]:
    """Table rows (validation, then test) of one finished training run."""
    run = client.get_run(run_id)
    metrics, tags, params = run.data.metrics, run.data.tags, run.data.params
    model = _logged_model(run_id) if latency or "model_params" not in metrics else None
    n_params = metrics.get("model_params") or (model.count_params() if model is not None else None)
    ms = f"{_latency_ms(model):.1f}" if latency and model is not None else "-"
    minutes = metrics.get("train_seconds", 0) / 60
    teacher = f" + {metrics['teacher_seconds'] / 60:.0f} min teacher" if "teacher_seconds" in metrics else ""
    recipe = f"`{tags.get('mlflow.runName', run_id)}` (`{run_id}`)"
    tta = params.get("evaluation.tta", "none")
    rows = []
    test_origin = tags.get("data.test_origin", "?")
    splits = {
        "val": tags.get("data.val_origin", "?"),
        "test": test_origin,
        "test_unseen": f"{test_origin} rows with no exact copy in train or val "
        f"({metrics.get('test_unseen_rows', 0):.0f})",
    }
    for prefix, origin in splits.items():
        if f"{prefix}_accuracy" not in metrics:
            continue
        cells = [
            recipe,
            f"{prefix}: {origin} (TTA {tta})",
            *(
                f"{metrics.get(f'{prefix}_{key}', float('nan')):.3f}"
                for key in ("accuracy", "macro_f1", "recall_disgust", "recall_fear")
            ),
            f"{n_params / 1e6:.2f}M" if n_params else "-",
            f"{minutes:.0f} min ({metrics.get('epochs_trained', 0):.0f} ep){teacher}",
            f"{metrics.get('train_img_per_s', 0):.0f}",
            tags.get("hardware", "?"),
            ms,
        ]
        rows.append("| " + " | ".join(cells) + " |")
        recipe = ""
    return rows


def _logged_model(run_id: str):
    import mlflow

    try:
        return mlflow.keras.load_model(f"runs:/{run_id}/model")
    except Exception as err:  # a run without a logged model still gets its metric rows
        print(f"note: run {run_id} has no loadable model ({type(err).__name__}); no latency or params")
        return None


def _latency_ms(model, calls: int = 50) -> float:
    face = np.zeros((1, *model.input_shape[1:]), "float32")
    for _ in range(5):
        model.predict_on_batch(face)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model.predict_on_batch(face)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_ids", nargs="+")
    parser.add_argument("--tracking-uri", default=None, help="default: the project's (mlflow.db at the root)")
    parser.add_argument("--no-latency", action="store_true", help="skip loading models to time inference")
    args = parser.parse_args()

    from mlflow import MlflowClient

    from fer_lab.tracking.uri import configure_tracking

    configure_tracking(args.tracking_uri)
    client = MlflowClient()
    print(HEADER)
    print("|" + "---|" * HEADER.count(" |"))
    for run_id in args.run_ids:
        for row in run_rows(client, run_id, latency=not args.no_latency):
            print(row)


if __name__ == "__main__":
    main()
