"""Distributed tuning: the chief's oracle server (KerasTuner internals it relies on, prompt stop), the local launcher,
and once end to end through the PostgreSQL tracking server: a chief and two workers share a 4-trial search while a
worker pointed at another study is refused and a worker killed mid-trial is restarted."""

from __future__ import annotations

import inspect
import subprocess
import sys
import threading
import time

import keras_tuner
from mlflow import MlflowClient

from fer_lab.tuning import local_cluster
from fer_lab.tuning.distributed import serve_oracle
from fer_lab.tuning.local_cluster import free_port

TINY = (
    "data=synthetic",
    "data.samples_per_class=10",
    "model=cnn_tiny",
    "trainer.epochs=1",
    "trainer.verbose=0",
    "tuner.max_trials=4",
    "tuner.retrain=false",
    "tuner.study=dist",
    "task_name=dist_t",
)
ADDRESS = ("tuner.distributed.ip=127.0.0.1", "tuner.distributed.port=5123")


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


def test_the_local_launcher_starts_a_chief_and_its_workers_and_stops_them_at_the_first_failure(monkeypatch):
    """`make tune-distributed`'s launcher; the processes themselves are checked end to end below."""
    started, stopped = [], []

    class Process:
        def __init__(self, command, env=None):
            self.command, self.code = command, 3 if "tuner.distributed.worker_id=worker2" in command else None
            started.append(self)

        def poll(self):
            return self.code

        def send_signal(self, sig):
            stopped.append(self.command[-1])
            self.code = -sig

        def wait(self, timeout=None):
            return self.code

    monkeypatch.setattr(local_cluster.subprocess, "Popen", Process)
    assert local_cluster.launch_local(["data=synthetic"], workers=2, port=5123, poll_s=0.01) == 3
    assert [p.command[3:] for p in started] == [
        ["data=synthetic", *ADDRESS, "tuner.distributed.role=chief"],
        ["data=synthetic", *ADDRESS, "tuner.distributed.role=worker", "tuner.distributed.worker_id=worker1"],
        ["data=synthetic", *ADDRESS, "tuner.distributed.role=worker", "tuner.distributed.worker_id=worker2"],
    ]
    assert stopped == ["tuner.distributed.role=chief", "tuner.distributed.worker_id=worker1"]


def _tune(port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fer_lab.tune",
        *TINY,
        "tuner.distributed.ip=127.0.0.1",
        f"tuner.distributed.port={port}",
        *extra,
    ]


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_through_the_server_a_worker_of_another_study_is_refused_and_one_killed_mid_trial_finishes_the_study(
    tracking_server, state_root
):
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_server.uri)
    port = free_port()
    slow = ("trainer.epochs=30", "tuner.study=killed", "task_name=dist_k", f"mlflow.tracking_uri={tracking_server.uri}")
    worker1 = [*_tune(port, *slow), "tuner.distributed.role=worker", "tuner.distributed.worker_id=worker1"]
    procs = [
        subprocess.Popen(_tune(port, *slow, "tuner.distributed.role=chief")),
        subprocess.Popen(worker1),
        subprocess.Popen([*_tune(port, *slow), "tuner.distributed.role=worker", "tuner.distributed.worker_id=worker2"]),
    ]
    try:
        experiment = _wait_for(lambda: client.get_experiment_by_name("dist_k"), 120, "the experiment")
        procs.append(  # pointed at another study: refused while the others go on
            subprocess.Popen(
                [*_tune(port, *slow), "tuner.distributed.role=worker", "tuner.study=other"],
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        mid_trial = "tags.`fer_lab.tuner_id` = 'worker1' and attributes.status = 'RUNNING'"
        interrupted = _wait_for(
            lambda: [
                r for r in client.search_runs([experiment.experiment_id], mid_trial) if "epoch/loss" in r.data.metrics
            ],
            180,
            "worker1 mid-trial",
        )[0]
        procs[1].kill()
        procs[1].wait(10)
        procs[1] = subprocess.Popen(worker1)
        stray_error = procs[3].communicate(timeout=300)[1]
        assert [p.wait(300) for p in procs] == [0, 0, 0, 2]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("fer_lab.role") == "study")
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.tags["fer_lab.trial_id"] for r in trials) == ["0", "1", "2", "3"]
    assert all(r.info.status == "FINISHED" and r.data.tags["fer_lab.trial_status"] == "COMPLETED" for r in trials)
    assert all(any(k.startswith("hp.") for k in r.data.params) for r in trials)
    for run in trials:  # every epoch once: the interrupted attempt's epochs went with its run
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "epoch/loss"))
        assert steps and steps == list(range(len(steps)))
    rerun = next(r for r in trials if r.data.tags["fer_lab.trial_id"] == interrupted.data.tags["fer_lab.trial_id"])
    assert rerun.data.tags["fer_lab.tuner_id"] == "worker1"
    deleted = client.search_runs([experiment.experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [interrupted.info.run_id]
    assert parent.info.status == "FINISHED" and parent.data.metrics["trials_completed"] == 4
    assert "Traceback" not in stray_error
    assert f"the chief on port {port} runs study killed, not other: start this worker with tuner.study=killed" in (
        stray_error
    )
    assert not (state_root / "tuner" / "other").exists()
    everywhere = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert not [r for r in everywhere if r.data.tags.get("fer_lab.study") == "other"]
