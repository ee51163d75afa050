"""Distributed tuning: the chief's oracle server (KerasTuner internals it relies on, prompt stop), and a chief with
two workers on 127.0.0.1 sharing a 4-trial search (about 1-2 minutes)."""

from __future__ import annotations

import inspect
import threading
import time

import keras_tuner
from mlflow import MlflowClient

from fer_lab.tracking import configure_tracking
from fer_lab.tuning.distributed import serve_oracle
from fer_lab.tuning.local_cluster import free_port, launch_local

TINY = ("data=synthetic", "data.samples_per_class=10", "model=cnn_tiny", "trainer.epochs=1", "trainer.verbose=0",
        "tuner.max_trials=4", "tuner.retrain=false", "tuner.study=dist", "task_name=dist_t")


def test_keras_tuner_internals_used_by_serve_oracle_exist_with_their_signatures():
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    oracle = keras_tuner.oracles.RandomSearchOracle(max_trials=1)
    assert callable(protos.get_service_grpc().add_OracleServicer_to_server)
    assert list(inspect.signature(OracleServicer).parameters) == ["oracle"]
    assert OracleServicer(oracle).stop_triggered is False
    assert exit_chief(oracle) is True  # (oracle) -> no trial running and no worker left


def test_chief_stops_within_a_second_of_the_last_worker_leaving(tmp_path, monkeypatch):
    from keras_tuner.src.distribute.oracle_client import OracleClient

    oracle = keras_tuner.oracles.RandomSearchOracle(objective=keras_tuner.Objective("score", "max"), max_trials=2)
    oracle._set_project_dir(str(tmp_path), "study")
    hp = keras_tuner.HyperParameters()
    hp.Float("x", 0, 1)
    oracle.update_space(hp)
    port = free_port()
    chief = threading.Thread(target=serve_oracle, args=(oracle, "127.0.0.1", port, 0.1), daemon=True)
    chief.start()
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "worker")
    client = OracleClient(oracle)
    first, second = client.create_trial("worker1"), client.create_trial("worker2")
    for trial in (first, second):
        client.update_trial(trial.trial_id, {"score": 0.5})
    first.status = "COMPLETED"
    client.end_trial(first)
    assert client.create_trial("worker1").status == "STOPPED"  # the budget is spent; worker2 still runs
    time.sleep(0.5)
    assert chief.is_alive()
    second.status = "COMPLETED"
    client.end_trial(second)
    assert client.create_trial("worker2").status == "STOPPED"
    left = time.perf_counter()
    chief.join(timeout=10)
    assert not chief.is_alive() and time.perf_counter() - left < 1.0  # KerasTuner's own loop polls every 20 s


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
