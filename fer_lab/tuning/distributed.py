"""KerasTuner chief/worker mode: the chief serves the oracle over gRPC, workers run the trials.

KerasTuner reads KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT; `configure_role`
sets them from tuner.distributed. The chief binds ip:port (0.0.0.0 to accept other machines); workers
connect to it and give up with a clear error after connect_timeout_s instead of waiting (KerasTuner's
own client waits up to an hour per call). `serve_oracle` runs KerasTuner's gRPC servicer (internals of
keras_tuner.src, pinned by tests/test_tune_distributed.py) in a loop of its own, because KerasTuner's
`start_server` keeps the chief up to 20 s after the last worker leaves and has no clear error for a port it
cannot bind.
"""

from __future__ import annotations

import enum
import os
import socket
import time
from dataclasses import dataclass

from omegaconf import MISSING, DictConfig

from fer_lab.errors import FerLabError

ENV_ID, ENV_IP, ENV_PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"


class Role(enum.StrEnum):
    chief = "chief"
    worker = "worker"


@dataclass
class DistributedConfig:
    """Types of tuner.distributed; the values are in conf/tune.yaml."""

    role: Role | None = MISSING
    ip: str = MISSING
    port: int = MISSING
    worker_id: str | None = MISSING
    connect_timeout_s: float = MISSING


def configure_role(dcfg: DictConfig) -> str | None:
    """None for a single-process study; else 'chief' or 'worker', with KerasTuner's variables set."""
    role = dcfg.get("role")
    if role is None:
        if ENV_IP in os.environ:
            raise FerLabError(
                f"{ENV_IP} is set but tuner.distributed.role is not: pass "
                "tuner.distributed.role=chief (or worker), or unset the KERASTUNER_* variables"
            )
        return None
    tuner_id = (
        "chief" if role == "chief" else str(dcfg.get("worker_id") or f"worker-{socket.gethostname()}-{os.getpid()}")
    )
    if role == "worker" and "chief" in tuner_id:
        raise FerLabError(f"tuner.distributed.worker_id={tuner_id!r} must not contain 'chief'")
    os.environ.update({ENV_ID: tuner_id, ENV_IP: str(dcfg.ip), ENV_PORT: str(dcfg.port)})
    return str(role)


def wait_for_chief(ip: str, port: int, timeout_s: float) -> None:
    """Return once the chief's gRPC server answers; FerLabError after `timeout_s`."""
    import grpc

    with grpc.insecure_channel(f"{ip}:{port}") as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            raise FerLabError(
                f"cannot reach the tuning chief at {ip}:{port} within {timeout_s:.0f}s. Start it first "
                "(same command with tuner.distributed.role=chief), check tuner.distributed.ip/port and the "
                "firewall, or wait longer with tuner.distributed.connect_timeout_s=<seconds>"
            ) from None


def serve_oracle(oracle, ip: str, port: int, poll_s: float = 0.5) -> None:
    """Serve `oracle` to the workers until every trial has ended and every worker has been told to stop.

    KerasTuner's own server loop does the same but polls every 20 s once the search is over.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{ip}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise FerLabError(
            f"the tuning chief cannot listen on {ip}:{port} (in use, or not an address of this "
            "machine); pick another tuner.distributed.port or ip"
        )
    server.start()
    print(
        f"fer_lab: tuning chief serving the oracle on {ip}:{port}; start workers with "
        f"tuner.distributed.role=worker tuner.distributed.ip=<this host> tuner.distributed.port={port}",
        flush=True,
    )
    try:
        while not (servicer.stop_triggered and exit_chief(oracle)):
            time.sleep(poll_s)
    finally:
        server.stop(grace=2)


def search_is_over(oracle) -> bool:
    """True when a trial budget exists, is used up, and no trial waits to run or rerun."""
    remaining = oracle.remaining_trials()
    return (
        remaining is not None
        and remaining <= 0
        and all(t.status in ("COMPLETED", "FAILED") for t in oracle.trials.values())
    )
