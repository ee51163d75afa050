"""Distributed tuning: a chief and two workers on 127.0.0.1 share a 4-trial search (about 1-2 minutes)."""

from __future__ import annotations

from mlflow import MlflowClient

from fer_lab.tracking import configure_tracking
from fer_lab.tuning.local_cluster import launch_local

TINY = ("data=synthetic", "data.samples_per_class=10", "model=cnn_tiny", "trainer.epochs=1", "trainer.verbose=0",
        "tuner.max_trials=4", "tuner.retrain=false", "tuner.study=dist", "task_name=dist_t")


def test_chief_and_two_workers_finish_a_four_trial_search(state_root):
    configure_tracking(None)  # create the store before three processes open it at once
    MlflowClient().search_experiments()
    assert launch_local(list(TINY), workers=2) == 0
    client = MlflowClient()
    experiment = client.get_experiment_by_name("dist_t").experiment_id
    runs = client.search_runs([experiment])
    parents = [r for r in runs if r.data.tags.get("fer_lab.role") == "study"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(trials) == 4 and all(r.data.tags["fer_lab.trial_status"] == "COMPLETED" for r in trials)
    assert {r.data.tags["fer_lab.tuner_id"] for r in trials} == {"worker1", "worker2"}
    assert parents[0].data.metrics["trials_completed"] == 4
