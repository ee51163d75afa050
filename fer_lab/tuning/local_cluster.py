"""`python -m fer_lab.tuning.local_cluster --workers 2 [tune overrides]`: a chief and N workers on 127.0.0.1.

Each is `python -m fer_lab.tune <overrides> tuner.distributed.role=...`; the exit status is the first
non-zero one (the others are then stopped), else 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_local(
    overrides: list[str], workers: int, port: int | None = None, env: dict | None = None, poll_s: float = 0.5
) -> int:
    """Start the chief and `workers` workers, wait for all; return the first non-zero exit status, else 0."""
    port = port or free_port()
    common = [
        sys.executable,
        "-m",
        "fer_lab.tune",
        *overrides,
        "tuner.distributed.ip=127.0.0.1",
        f"tuner.distributed.port={port}",
    ]
    commands = [[*common, "tuner.distributed.role=chief"]]
    commands += [
        [*common, "tuner.distributed.role=worker", f"tuner.distributed.worker_id=worker{i}"]
        for i in range(1, workers + 1)
    ]
    procs = [subprocess.Popen(c, env={**os.environ, **(env or {})}) for c in commands]
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = next((c for c in codes if c not in (None, 0)), None)
            if failed is not None or all(c == 0 for c in codes):
                return failed or 0
            time.sleep(poll_s)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fer_lab.tuning.local_cluster", description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="number of workers (default 2)")
    parser.add_argument("--port", type=int, default=None, help="the chief's port (default: a free one)")
    args, overrides = parser.parse_known_args(argv)
    sys.exit(launch_local(overrides, args.workers, args.port))


if __name__ == "__main__":
    main()
