"""benchmarks/bench_speedrun.py --quick: recipes trained one after the other, a time-to-accuracy table, a plot and
one MLflow parent run with the trainings as children."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_speedrun.py"


def test_quick_run_prints_the_table_saves_the_plot_and_logs_one_parent(state_root, tmp_path, run_script):
    plot = tmp_path / "speedrun.png"
    recipes = ("cnn_cpu_budget", "custom_cnn_cpu_12ep")
    result = run_script(SCRIPT, "--quick", "--minutes", "1", "--plot", str(plot), "--recipes", *recipes)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{r}`" for r in recipes]
    assert rows[0].endswith("| 1.00x |") and "| 2 |" in rows[0]  # two epochs each
    assert "| min to val 0.60 | min to val 0.63 | min to val 0.65 |" in result.stdout
    assert plot.stat().st_size > 0
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("bench-speedrun").experiment_id])
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and len(children) == 2
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {"speedrun.md", "speedrun.png"}
    minutes = [m.value for m in client.get_metric_history(children[0].info.run_id, "epoch/train_minutes")]
    assert len(minutes) == 2 and 0 < minutes[0] < minutes[1]  # cumulative training minutes, every epoch
