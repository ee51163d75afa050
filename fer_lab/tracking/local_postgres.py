"""A throwaway PostgreSQL cluster on a loopback port, for tests and benchmarks of the tracking server."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from fer_lab.errors import FerLabError

DEBIAN_BIN = Path("/usr/lib/postgresql")  # Debian's postgresql package: /usr/lib/postgresql/<version>/bin
UNPRIVILEGED_USER = "nobody"  # initdb and postgres refuse to run as root


def postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version; None when not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(DEBIAN_BIN.glob("[0-9]*/bin/initdb"), key=lambda p: float(p.parts[-3]))
    return versions[-1].parent if versions else None


class LocalPostgres:
    """initdb in a fresh temporary folder, trust authentication, listening on 127.0.0.1:`port` only.

    `start()` starts it and creates `database`; `stop()` stops it (it can be started again); `close()` stops it and
    deletes the folder. As root, the cluster runs as `nobody`.
    """

    def __init__(self, port: int, database: str = "mlflow", user: str = "fer_lab"):
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise FerLabError(
                "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin). "
                "Install it, e.g. `apt-get install postgresql`."
            )
        self.bin_dir, self.port, self.database, self.user = bin_dir, port, database, user
        self._created = False
        self.folder = Path(tempfile.mkdtemp(prefix="fer_lab_pg_"))
        self._owner = pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None
        if self._owner:
            os.chown(self.folder, self._owner.pw_uid, self._owner.pw_gid)
        try:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", user, "-E", "UTF8", "--no-sync")
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def uri(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> str:
        """Start the cluster (and create the database the first time); return the database's URI."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.folder / "postgres.log"), "-o", options)
        if not self._created:
            import psycopg

            with psycopg.connect(self.uri.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
            self._created = True
        return self.uri

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        owner = self._owner
        result = subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.folder,
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
            extra_groups=[] if owner else None,
        )
        if result.returncode != 0:
            raise FerLabError(f"{tool} failed in {self.folder}: {(result.stderr or result.stdout).strip()}")
