"""A lock around reading and moving a registered model's aliases, shared by every process on one tracking store.

MLflow has no compare-and-set for aliases: two trainings that read the champion at once and then each move the
alias would lose one update. The lock is a registered model named `<name>.alias-lock`: creating a registered
model whose name exists fails atomically in every store (a unique key in SQLite and PostgreSQL, the same error
through a tracking server), so exactly one process holds it. A lock left by a crashed process is broken once
the same lock has been seen for `stale_s` seconds of this process's own clock (no clock sync between machines).
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fer_lab.errors import FerLabError

LOCK_SUFFIX = ".alias-lock"
OWNER_TAG = "fer_lab.lock_owner"


def lock_name(name: str) -> str:
    return f"{name}{LOCK_SUFFIX}"


@contextmanager
def alias_lock(client, name: str, timeout_s: float = 120.0, stale_s: float = 60.0) -> Iterator[None]:
    """Hold the alias lock of registered model `name` for the block; FerLabError after `timeout_s` of waiting."""
    from mlflow.exceptions import MlflowException

    lock, owner = lock_name(name), f"{socket.gethostname()}:{os.getpid()}"
    start = time.monotonic()
    seen: tuple[int | None, float] | None = None  # (creation timestamp of the lock we wait on, when first seen)
    while True:
        try:
            client.create_registered_model(
                lock, tags={OWNER_TAG: owner}, description=f"held while fer_lab moves the aliases of {name}"
            )
            break
        except MlflowException as err:
            # MLflow's SQL store answers a taken name by reading the existing model for its message; when the
            # holder released the lock in between, that read fails as RESOURCE_DOES_NOT_EXIST: taken, try again.
            if err.error_code not in ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST"):
                raise
        held = _lock_created(client, lock)
        if seen is None or seen[0] != held:
            seen = (held, time.monotonic())
        elif time.monotonic() - seen[1] > stale_s:
            _delete(client, lock)  # left by a process that died holding it
            seen = None
            continue
        if time.monotonic() - start > timeout_s:
            raise FerLabError(
                f"waited {timeout_s:.0f}s for the alias lock of {name!r} (registered model {lock!r}, "
                "held by another fer_lab process); if no fer_lab command is running, delete it in the "
                "MLflow UI or with MlflowClient().delete_registered_model"
            )
        time.sleep(0.05 + 0.15 * random.random())
    try:
        yield
    finally:
        _delete(client, lock)


def _lock_created(client, lock: str) -> int | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(lock).creation_timestamp
    except MlflowException:
        return None  # released in between


def _delete(client, lock: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.delete_registered_model(lock)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
