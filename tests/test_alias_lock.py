"""Champion promotion under concurrency: two trainings finishing at once end with the better one as champion, in a
SQLite store and through the PostgreSQL tracking server."""

from __future__ import annotations

import contextlib
import threading
import time

import mlflow
import pytest
from mlflow import MlflowClient

from fer_lab.errors import FerLabError
from fer_lab.tracking import configure_tracking, registry
from fer_lab.tracking.alias_lock import alias_lock, lock_name


def _version(client: MlflowClient, name: str, val_accuracy: float) -> str:
    with mlflow.start_run() as run:
        mlflow.log_metric("val_accuracy", val_accuracy)
    return client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id).version


@pytest.fixture(params=["sqlite", "server"])
def store(request, state_root) -> None:
    """Every MLflow call of the test goes to a fresh SQLite store or to the shared tracking server."""
    configure_tracking(request.getfixturevalue("tracking_server").uri if request.param == "server" else None)


def _race(monkeypatch, name: str) -> str:
    """A worse and a better version promoted at once, the worse one reading the champion first and writing last
    (it pauses between reading and writing); returns the champion at the end."""
    client = MlflowClient()
    client.create_registered_model(name)
    old = _version(client, name, 0.50)
    client.set_registered_model_alias(name, registry.CHAMPION, old)
    better, worse = _version(client, name, 0.70), _version(client, name, 0.60)
    read = registry._champion_version
    worse_has_read = threading.Event()

    def slow_read(client, name):
        current = read(client, name)
        if threading.current_thread().name == "worse":
            worse_has_read.set()
            time.sleep(1.0)
        return current

    monkeypatch.setattr(registry, "_champion_version", slow_read)
    threads = [
        threading.Thread(
            target=registry.promote_if_better, name=label, args=(MlflowClient(), name, version, "val_accuracy", "auto")
        )
        for label, version in (("worse", worse), ("better", better))
    ]
    threads[0].start()
    worse_has_read.wait(10)
    threads[1].start()
    for thread in threads:
        thread.join(300)  # a loaded machine slows every request to the server
    assert not any(thread.is_alive() for thread in threads)
    assert not client.search_registered_models(f"name = '{lock_name(name)}'")  # released
    champion = client.get_model_version_by_alias(name, registry.CHAMPION).version
    return {better: "better", worse: "worse"}.get(champion, champion)


def test_concurrent_promotions_end_with_the_better_version(store, monkeypatch):
    assert _race(monkeypatch, "race_locked") == "better"


def test_without_the_lock_the_same_race_loses_the_update(store, monkeypatch):
    monkeypatch.setattr(registry, "alias_lock", lambda client, name: contextlib.nullcontext())
    assert _race(monkeypatch, "race_unlocked") == "worse"


def test_a_lock_left_by_a_dead_process_is_broken_after_stale_s(state_root):
    configure_tracking(None)
    client = MlflowClient()
    client.create_registered_model(lock_name("m"))
    start = time.monotonic()
    with alias_lock(client, "m", stale_s=0.5):
        assert time.monotonic() - start >= 0.5
    assert not client.search_registered_models(f"name = '{lock_name('m')}'")


def test_waiting_too_long_is_one_clear_error(state_root):
    configure_tracking(None)
    client = MlflowClient()
    client.create_registered_model(lock_name("m"))
    with (
        pytest.raises(FerLabError, match=r"waited 0s for the alias lock of 'm' .*delete it"),
        alias_lock(client, "m", timeout_s=0.3),
    ):
        pass


def test_a_lock_released_while_the_store_reports_it_taken_is_tried_again():
    """MLflow's SQL store reads a taken name back for its error; released in between, that read says "does not
    exist": the lock is free, so the next try takes it."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

    class Client:
        def __init__(self):
            self.creates, self.deleted = 0, []

        def create_registered_model(self, name, tags=None, description=None):
            self.creates += 1
            if self.creates == 1:
                raise MlflowException("not found", error_code=RESOURCE_DOES_NOT_EXIST)

        def get_registered_model(self, name):
            raise MlflowException("not found", error_code=RESOURCE_DOES_NOT_EXIST)

        def delete_registered_model(self, name):
            self.deleted.append(name)

    client = Client()
    with alias_lock(client, "m", timeout_s=5):
        assert client.creates == 2
    assert client.deleted == [lock_name("m")]
