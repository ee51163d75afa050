"""Time to accuracy: recipes trained one after the other on this machine, each for the same minutes.

    .venv/bin/python benchmarks/bench_speedrun.py --data data [--minutes 30] [--recipes cnn_cpu_budget ...] [--quick]

Each recipe is `python -m fer_lab.train +experiment=<recipe> trainer.max_minutes=<minutes>` on FER-2013
(<data>/fer2013.csv.gz), run in this process one after the other, so the recipes share the machine's speed. From every
run's per-epoch metrics (epoch/val_accuracy, one pass, against epoch/train_minutes) the table gives the minutes to
validation accuracy 0.60 / 0.63 / 0.65, img/s, epochs and the final val and test accuracy at the recipe's TTA; a plot
shows validation accuracy against training minutes, one line per recipe. Both go to stdout / a PNG and to one MLflow
run (experiment `bench-speedrun`) whose children are the training runs. --quick: synthetic faces, a tiny net, two
epochs (a smoke test of the benchmark itself, not a measurement).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
from mlflow import MlflowClient

from fer_lab.command_line import compose_config
from fer_lab.tracking import configure_tracking
from fer_lab.tracking.hardware import cpu_description
from fer_lab.tracking.parent_runs import close_parent, open_parent
from fer_lab.training.run import run_training

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.60, 0.63, 0.65)
RECIPES = ("cnn_cpu_budget",)
QUICK = (
    "data=synthetic",
    "data.samples_per_class=12",
    "model=cnn_tiny",
    "trainer.epochs=2",
    "evaluation.sample_grid=0",
    "evaluation.tta=none",
    "evaluation.unseen_test=false",
)


@dataclass(frozen=True)
class Curve:
    """One recipe's run: validation accuracy (one pass) after each epoch against training minutes so far."""

    recipe: str
    run_id: str
    minutes: list[float]
    val_accuracy: list[float]
    img_per_s: float
    final_val: float
    final_test: float | None
    tta: str

    def minutes_to(self, accuracy: float) -> float | None:
        """Training minutes until validation accuracy first reached `accuracy` (None: never)."""
        return next((m for m, a in zip(self.minutes, self.val_accuracy, strict=True) if a >= accuracy), None)


def train(recipe: str, minutes: float, data: Path, quick: bool, parent: str) -> Curve:
    """Train `recipe` for `minutes` and read its curve back from MLflow."""
    overrides = [
        f"+experiment={recipe}",
        f"trainer.max_minutes={minutes}",
        "trainer.resume=false",
        "task_name=bench-speedrun",
        "mlflow.registered_model_name=",
        f"mlflow.run_name=speedrun-{recipe}",
        *(QUICK if quick else (f"data.path={data / 'fer2013.csv.gz'}",)),
    ]
    summary = run_training(compose_config("train", overrides), overrides=overrides, parent_run_id=parent)
    keras.backend.clear_session()
    client = MlflowClient()
    history = {
        name: {m.step: m.value for m in client.get_metric_history(summary.run_id, f"epoch/{name}")}
        for name in ("val_accuracy", "train_minutes")
    }
    steps = sorted(history["val_accuracy"])
    metrics = client.get_run(summary.run_id).data.metrics
    return Curve(
        recipe,
        summary.run_id,
        [history["train_minutes"][s] for s in steps],
        [history["val_accuracy"][s] for s in steps],
        metrics.get("train_img_per_s", summary.fit.images_per_second),
        summary.reports["val"].accuracy,
        summary.reports["test"].accuracy if "test" in summary.reports else None,
        summary.reports["val"].tta,
    )


def table(curves: list[Curve]) -> str:
    """The time-to-accuracy table, in markdown."""
    head = " | ".join(f"min to val {t:.2f}" for t in THRESHOLDS)
    lines = [
        f"| recipe | {head} | img/s | epochs | val acc. (TTA) | test acc. (TTA) | img/s vs first |",
        "|---|" + "---:|" * (len(THRESHOLDS) + 5),
    ]
    for c in curves:
        reached = " | ".join("-" if c.minutes_to(t) is None else f"{c.minutes_to(t):.1f}" for t in THRESHOLDS)
        test = "-" if c.final_test is None else f"{c.final_test:.3f}"
        lines.append(
            f"| `{c.recipe}` | {reached} | {c.img_per_s:.0f} | {len(c.minutes)} | {c.final_val:.3f} ({c.tta}) "
            f"| {test} ({c.tta}) | {c.img_per_s / curves[0].img_per_s:.2f}x |"
        )
    return "\n".join(lines)


def plot(curves: list[Curve], title: str, path: Path) -> Path:
    """Validation accuracy (one pass, per epoch) against training minutes, one line per recipe."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in curves:
        ax.plot(c.minutes, c.val_accuracy, marker=".", label=c.recipe)
    for t in THRESHOLDS:
        ax.axhline(t, color="grey", linewidth=0.5, linestyle=":")
    ax.set(xlabel="training minutes", ylabel="validation accuracy (one pass)", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="folder with fer2013.csv.gz")
    parser.add_argument("--minutes", type=float, default=30.0, help="training minutes of each recipe (default 30)")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), help="experiment names (conf/experiment/)")
    parser.add_argument("--plot", type=Path, default=Path("speedrun.png"), help="where the plot goes")
    parser.add_argument("--quick", action="store_true", help="synthetic faces, a tiny net, 2 epochs: a smoke test")
    args = parser.parse_args(argv)
    uri = configure_tracking(None)
    hardware = cpu_description()
    parent = open_parent("bench-speedrun", uri, f"speedrun-{args.minutes:g}min", {"hardware": hardware})
    status = "FAILED"
    try:
        curves = [train(r, args.minutes, args.data, args.quick, parent) for r in args.recipes]
        title = f"{args.minutes:g} min per recipe; {hardware}"
        markdown = table(curves)
        print(f"\n{title}; Keras {keras.__version__}, backend {keras.backend.backend()}\n\n{markdown}\n")
        figure = plot(curves, title, args.plot)
        print(f"plot: {figure}; MLflow run {parent} in {uri}")
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "speedrun.md").write_text(f"{title}\n\n{markdown}\n")
            client = MlflowClient()
            client.log_artifact(parent, str(Path(tmp) / "speedrun.md"))
            client.log_artifact(parent, str(figure))
        status = "FINISHED"
    finally:
        close_parent(parent, status)
        mlflow.end_run()


if __name__ == "__main__":
    main()
