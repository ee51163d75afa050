"""`make server`: an MLflow tracking server on a PostgreSQL database, storing and serving the team's artifacts.

    python -m fer_lab.tracking.server --db postgresql://USER@HOST:5432/DB --artifacts FOLDER
        [--host 127.0.0.1] [--port 5000] [--workers 4]

The database is checked first: one message and exit status 2 when PostgreSQL refuses the connection.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fer_lab.errors import FerLabError, report_user_errors

DRIVER = "postgresql+psycopg"  # SQLAlchemy's name for psycopg 3 (a plain postgresql:// means psycopg2 before 2.1)
_CONNECT_TIMEOUT_S = 5


def store_uri(db: str) -> str:
    """The SQLAlchemy URI of a postgresql:// database, on the psycopg driver fer_lab installs."""
    scheme, sep, rest = db.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise FerLabError(
            f"the server's database {redacted(db)!r} is not a PostgreSQL URI: "
            "use SERVER_DB=postgresql://USER@HOST:PORT/DB (docs/tracking.md, the team server)."
        )
    return f"{DRIVER}://{rest}"


def redacted(db: str) -> str:
    """`db` with its password, if any, replaced by ***."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", db)


def check_database(db: str) -> None:
    """Raise FerLabError, naming the fix, unless PostgreSQL accepts a connection to `db`."""
    import psycopg

    libpq_uri = "postgresql://" + store_uri(db).partition("://")[2]
    try:
        psycopg.connect(libpq_uri, connect_timeout=_CONNECT_TIMEOUT_S).close()
    except psycopg.Error as err:
        reason = " ".join(str(err).split("\n")[0].split())
        raise FerLabError(
            f"PostgreSQL refused the connection to {redacted(db)} ({reason}). Start PostgreSQL and create the "
            f"database (`{_createdb(libpq_uri)}`), or point SERVER_DB=postgresql://USER@HOST:PORT/DB at one that "
            "exists."
        ) from None


def _createdb(uri: str) -> str:
    """The createdb command that creates the database of `uri`."""
    parts = urllib.parse.urlsplit(uri)
    port = re.search(r":(\d+)$", parts.netloc)
    flags = (("-h", parts.hostname), ("-p", port and port[1]), ("-U", parts.username))
    options = [f"{flag} {value}" for flag, value in flags if value]
    return " ".join(["createdb", *options, parts.path.lstrip("/") or "DB"])


def server_command(db: str, artifacts: Path, host: str, port: int, workers: int) -> list[str]:
    """`mlflow server` on `db`, artifacts uploaded to and served from the absolute folder `artifacts`."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        store_uri(db),
        "--artifacts-destination",
        str(artifacts.resolve()),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@contextmanager
def running_server(
    db: str, artifacts: Path, port: int, workers: int = 1, log: Path | None = None, timeout_s: float = 180
) -> Iterator[str]:
    """Start the server on 127.0.0.1:`port`, wait for /health and yield its URI; stop it (and its workers) at exit."""
    check_database(db)
    uri = f"http://127.0.0.1:{port}"
    with open(log or os.devnull, "ab") as out:
        proc = subprocess.Popen(
            server_command(db, artifacts, "127.0.0.1", port, workers),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_healthy(uri, proc, timeout_s, log)
        yield uri
    finally:
        stop_process_group(proc)


def wait_healthy(uri: str, proc: subprocess.Popen, timeout_s: float, log: Path | None = None) -> None:
    """Return once the server process `proc` answers `uri`/health; FerLabError if it exits or times out first."""
    deadline = time.monotonic() + timeout_s
    see = f" (its log: {log})" if log else ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise FerLabError(f"the MLflow server for {uri} exited with status {proc.returncode} while starting{see}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise FerLabError(f"the MLflow server for {uri} did not answer /health within {timeout_s:.0f} s{see}")


def stop_process_group(proc: subprocess.Popen, wait_s: float = 15) -> None:
    """SIGTERM the process group `proc` leads (start_new_session=True); SIGKILL what is left after `wait_s`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + wait_s
        try:
            os.killpg(proc.pid, sig)
            while time.monotonic() < deadline:
                proc.poll()  # reaps the leader, whose zombie would keep the group alive
                os.killpg(proc.pid, 0)
                time.sleep(0.2)
        except ProcessLookupError:
            return


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m fer_lab.tracking.server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", required=True, help="postgresql://USER[:PASSWORD]@HOST:PORT/DB (the backend store)")
    parser.add_argument("--artifacts", type=Path, required=True, help="folder the server stores artifacts in")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4, help="server worker processes")
    args = parser.parse_args(argv)
    check_database(args.db)
    command = server_command(args.db, args.artifacts, args.host, args.port, args.workers)
    address = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host
    print(
        f"fer_lab: MLflow server on {redacted(args.db)}, artifacts in {args.artifacts.resolve()}: "
        f"point commands at mlflow.tracking_uri=http://{address}:{args.port}",
        flush=True,
    )
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
